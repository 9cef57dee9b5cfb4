// A stand-in for the trials table: unique trial numbers and a unique index on the grid cell key,
// so concurrent askers can be interleaved step by step as separate processes would be.
import type { FrozenTrial } from '../src/types.ts';

export class SimulatedStorage {
  private readonly rows: FrozenTrial[] = [];
  private readonly numbers = new Set<number>();
  private readonly cellKeys = new Set<string>();
  /** Inserts refused by a unique index. */
  conflicts = 0;

  /** What a reader sees: a copy, as a query result would be. */
  read(): FrozenTrial[] {
    return this.rows.map((t) => ({ ...t }));
  }

  /** INSERT with unique (number) and unique (cellKey): false when either is taken. */
  insert(trial: FrozenTrial): boolean {
    if (this.numbers.has(trial.number) || (trial.cellKey !== undefined && this.cellKeys.has(trial.cellKey))) {
      this.conflicts++;
      return false;
    }
    this.numbers.add(trial.number);
    if (trial.cellKey !== undefined) this.cellKeys.add(trial.cellKey);
    this.rows.push(trial);
    return true;
  }

  update(number: number, patch: Partial<Pick<FrozenTrial, 'state' | 'value' | 'reports'>>): void {
    const i = this.rows.findIndex((t) => t.number === number);
    if (i < 0) throw new Error(`no trial ${number}`);
    this.rows[i] = { ...this.rows[i]!, ...patch };
  }
}
