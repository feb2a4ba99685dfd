/**
 * The order a run visits its training pairs: a seeded shuffle per epoch, so that `{ epoch, cursor }` is all a
 * checkpoint needs to continue it.
 */
import { Prng } from '../models/prng';

/** The seeded order of the pairs in each epoch (Fisher–Yates), a pure function of seed and epoch. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  const prng = new Prng((seed * 7919 + epoch * 104729 + 17) >>> 0);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(prng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export interface DataPosition {
  epoch: number;
  /** how many entries of the epoch's order have been drawn */
  cursor: number;
}

/** A run's place in the seeded order of `count` pairs; batches continue into the next epoch. */
export class DataOrder {
  private epoch: number;
  private cursor: number;
  private order: number[];

  constructor(
    private readonly count: number,
    private readonly seed: number,
    position: DataPosition = { epoch: 0, cursor: 0 },
  ) {
    this.epoch = position.epoch;
    this.cursor = position.cursor;
    this.order = epochOrder(count, seed, this.epoch);
  }

  get position(): DataPosition {
    return { epoch: this.epoch, cursor: this.cursor };
  }

  /** The next `size` indices that `usable` accepts, and the epoch the batch started in. */
  next(size: number, usable: (index: number) => boolean = () => true): { indices: number[]; epoch: number } {
    const indices: number[] = [];
    const epoch = this.epoch;
    let guard = 0;
    while (indices.length < size) {
      if (this.cursor >= this.order.length) {
        this.epoch += 1;
        this.cursor = 0;
        this.order = epochOrder(this.count, this.seed, this.epoch);
      }
      const i = this.order[this.cursor++];
      if (usable(i)) indices.push(i);
      if (++guard > 4 * (this.count + size)) throw new Error('no usable training pair');
    }
    return { indices, epoch };
  }
}
