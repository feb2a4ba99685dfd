import * as tf from '@tensorflow/tfjs';
import { Linear, type LoraAdapters } from './lora';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type WeightMap = Map<string, NamedTensor>;

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Reads tensors out of a weight map, checking names and shapes; every tensor it creates is tracked for cleanup.
 * `trainable` makes each one a trainable tf.Variable (full-weight training), kept in `variables` by its name.
 */
export class WeightReader {
  readonly created: tf.Tensor[] = [];
  readonly variables = new Map<string, tf.Variable>();

  constructor(
    private readonly map: WeightMap,
    private readonly shapes: Map<string, number[]>,
    private readonly trainable = false,
  ) {}

  /** Check every expected tensor before creating any (so a bad file fails fast and leaks nothing). */
  validate(): void {
    for (const [name, expected] of this.shapes) {
      const t = this.map.get(name);
      if (!t) throw new Error(`missing tensor "${name}" (expected shape ${fmt(expected)})`);
      if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
        throw new Error(`tensor "${name}" has shape ${fmt(t.shape)}, expected ${fmt(expected)}`);
      }
      const size = expected.reduce((a, b) => a * b, 1);
      if (t.data.length !== size) {
        throw new Error(`tensor "${name}" has ${t.data.length} values, expected ${size} for shape ${fmt(expected)}`);
      }
    }
  }

  get<T extends tf.Tensor>(name: string): T {
    const t = this.map.get(name);
    const shape = this.shapes.get(name);
    if (!t || !shape) throw new Error(`missing tensor "${name}"`);
    if (this.trainable) {
      const variable = tf.tidy(() => tf.variable(tf.tensor(t.data, shape, 'float32'), true));
      this.created.push(variable);
      this.variables.set(name, variable);
      return variable as unknown as T;
    }
    const tensor = tf.tensor(t.data, shape, 'float32') as T;
    this.created.push(tensor);
    return tensor;
  }

  linear(name: string, withBias: boolean, lora?: LoraAdapters): Linear {
    const w = this.get<tf.Tensor2D>(`${name}.weight`);
    const b = withBias ? this.get<tf.Tensor1D>(`${name}.bias`) : null;
    const adapter = lora?.attach(name, w.shape[1], w.shape[0]);
    return new Linear(name, w, b, adapter, lora?.scaling ?? 1);
  }
}
