// The option parsers every command shares.
import { describe, expect, it } from 'vitest';
import { labelColumnArg } from './command.ts';

describe('labelColumnArg', () => {
  it('takes a name as written, an index from 1 as 0-based, a negative one from the end; 0 is no column', () => {
    expect(['species', 'class 2', '1a'].map(labelColumnArg)).toEqual(['species', 'class 2', '1a']);
    expect(['1', '3', ' 2 ', '-1', '-3'].map(labelColumnArg)).toEqual([0, 2, 1, -1, -3]);
    expect(labelColumnArg('0')).toBeNull();
    expect(labelColumnArg('-0')).toBeNull();
  });
});
