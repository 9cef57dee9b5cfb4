// `hypersweep watch`: the sweep and its trials from the REST API, then its event stream folded into
// a live table (redrawn in place on a terminal, one line per event otherwise) until the sweep ends.
import { describeError, type HypersweepClient, type SweepEventsOptions } from '@hypersweep/client';
import { FINISHED_SWEEP_STATUSES, type SweepStatus } from '@hypersweep/schemas';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, clientFrom, EXIT, parseCommandArgs, requireUuid, UsageError, writeLines, type CommandContext } from './command.ts';
import {
  applyEvent,
  formatEventLine,
  initialWatchState,
  LiveFrame,
  renderOutcome,
  renderWatchFrame,
} from './render.ts';

export const WATCH_DISPLAY_USAGE = `  --plain                   one line per event instead of a live table
                            (the default when stdout is not a terminal)`;

export const WATCH_USAGE = `hypersweep watch <sweepId> [options]
  Follows a sweep live (reconnecting after a dropped connection without losing events) until it
  ends, printing the best trial and test result. Exit code: 0 completed, 3 cancelled, 4 failed
  (1 an error, 130 interrupted).
${WATCH_DISPLAY_USAGE}
${CONNECTION_USAGE}`;

export interface WatchOptions {
  readonly plain?: boolean;
  /** Event-stream tuning (tests shorten the backoff). */
  readonly stream?: Omit<SweepEventsOptions, 'signal' | 'onOpen' | 'onDisconnect'>;
}

/** The exit code of a watch that saw the sweep end with `status`. */
export function exitCodeOf(status: SweepStatus): number {
  if (status === 'cancelled') return EXIT.cancelled;
  if (status === 'failed') return EXIT.failed;
  return EXIT.ok;
}

/** Follows one sweep to its end; the exit code says how it ended (exitCodeOf), 130 when interrupted. */
export async function watchSweep(client: HypersweepClient, sweepId: string, ctx: CommandContext, options: WatchOptions = {}): Promise<number> {
  const sweep = await client.getSweep(sweepId);
  const state = initialWatchState(sweep, await client.listAllTrials(sweepId));
  const live = !options.plain && ctx.isTTY;
  if (FINISHED_SWEEP_STATUSES.has(sweep.status)) {
    writeLines(ctx.stdout, [`sweep ${sweep.name} is ${sweep.status}`, ...renderOutcome(sweep)]);
    return exitCodeOf(sweep.status);
  }

  let notice: string | null = null;
  const frame = live ? new LiveFrame(ctx.stdout) : undefined;
  const redraw = () => frame?.update(() => [...renderWatchFrame(state, { columns: ctx.columns, rows: ctx.rows - (notice ? 1 : 0) }), ...(notice ? [notice] : [])]);
  const say = (line: string) => {
    if (frame) {
      notice = line;
      redraw();
    } else {
      ctx.stderr.write(line + '\n');
    }
  };
  if (frame) redraw();
  else ctx.stdout.write(`watching sweep ${state.name} (${state.sweepId}): ${state.status}, ${state.trials.size} trials so far\n`);

  // Ends the stream when the sweep turns out to be over already (it may have finished between
  // our snapshot and the stream's start, and then no event would ever tell us).
  const stop = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
  let checkedOnOpen = false;
  let sawTerminalEvent = false;
  try {
    for await (const item of client.sweepEvents(sweepId, {
      ...options.stream,
      signal,
      onOpen: ({ attempt, lastEventId }) => {
        if (attempt > 1) say(`reconnected (resuming after event ${lastEventId || 'none'})`);
        else if (frame) notice = null;
        if (checkedOnOpen) return;
        checkedOnOpen = true;
        client.getSweep(sweepId).then(
          (now) => {
            if (FINISHED_SWEEP_STATUSES.has(now.status) && state.lastEventId === 0) stop.abort();
          },
          () => undefined, // the stream itself reports connection problems
        );
      },
      onDisconnect: ({ error, delayMs, lastEventId }) =>
        say(`connection lost (${describeError(error)}); reconnecting in ${delayMs < 1000 ? `${delayMs} ms` : `${(delayMs / 1000).toFixed(1)} s`} after event ${lastEventId || 'none'}`),
    })) {
      if (item.kind === 'unknown') {
        say(`skipped an event the CLI does not understand (${item.message.event}, id ${item.message.lastEventId}): ${item.problem}`);
        continue;
      }
      const event = item.event;
      applyEvent(state, event);
      if (frame) redraw();
      else ctx.stdout.write(formatEventLine(event, state) + '\n');
      if (event.type === 'sweep.updated' && FINISHED_SWEEP_STATUSES.has(event.data.status)) {
        sawTerminalEvent = true;
        break;
      }
    }
  } finally {
    frame?.close();
  }

  if (ctx.signal?.aborted && !sawTerminalEvent) {
    ctx.stderr.write(`stopped watching; the sweep goes on (hypersweep watch ${sweepId} to follow it again)\n`);
    return EXIT.interrupted;
  }
  // The stream also ends when the server answers 204 No Content: the sweep is over and every event
  // was sent, even if none of them was a terminal sweep.updated we understood. The final read says how.
  const final = await client.getSweep(sweepId);
  writeLines(ctx.stdout, [`sweep ${final.name} ${final.status}${final.error ? `: ${final.error}` : ''}`, ...renderOutcome(final)]);
  return exitCodeOf(final.status);
}

export async function runWatch(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...CONNECTION_OPTIONS, plain: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }, WATCH_USAGE);
  if (values.help) {
    ctx.stdout.write(WATCH_USAGE + '\n');
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new UsageError('watch takes one sweep id', WATCH_USAGE);
  const sweepId = requireUuid('sweep id', positionals[0], WATCH_USAGE);
  return watchSweep(clientFrom(values, ctx), sweepId, ctx, { plain: values.plain });
}

