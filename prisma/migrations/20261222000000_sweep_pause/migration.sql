-- A sweep may be paused by its user (and resumed, or cancelled while paused).
ALTER TYPE "SweepStatus" ADD VALUE 'paused' AFTER 'running';
