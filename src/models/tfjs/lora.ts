/**
 * LoRA (Hu et al., 2021) for the frozen linear layers of the model.
 *
 *   y = x Wᵀ + b + (α / r) · (x Aᵀ) Bᵀ          W: [out, in] frozen,  A: [r, in],  B: [out, r]
 *
 * As in PEFT: A is initialised with `kaiming_uniform_(a = √5)`, i.e. U(−1/√in, 1/√in),
 * from a seeded generator; B is zero, so a fresh adapter leaves the model unchanged.
 * Only A and B are `tf.Variable`s (trainable); base weights stay plain tensors.
 *
 * `enabled` turns every adapter off at once: with adapters off the model *is* the
 * frozen base model, which is how the reference policy of DPO/ASPO is computed
 * without a second copy of the weights.
 */
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../prng';

/** Every linear layer of the language model, by its Hugging Face module name. */
export const DEFAULT_LORA_TARGETS: readonly string[] = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
];

export interface LoraOptions {
  /** rank r */
  r: number;
  /** lora_alpha; scaling = alpha / r */
  alpha: number;
  /** last segment of a module name (e.g. `q_proj`) that gets an adapter; default: every LM linear */
  targetModules?: readonly string[];
  /** seed of the Kaiming-uniform initialisation of A */
  seed?: number;
}

export interface LoraAdapter {
  /** module name, e.g. `model.text_model.layers.0.self_attn.q_proj` */
  readonly name: string;
  /** [r, in] */
  readonly A: tf.Variable<tf.Rank.R2>;
  /** [out, r] */
  readonly B: tf.Variable<tf.Rank.R2>;
}

let instanceCounter = 0;

export class LoraAdapters {
  readonly r: number;
  readonly alpha: number;
  readonly scaling: number;
  readonly targetModules: readonly string[];
  /** false → every adapter is bypassed (the base / reference model). */
  enabled = true;
  private readonly adapters = new Map<string, LoraAdapter>();
  private readonly prng: Prng;
  private readonly varPrefix: string;

  constructor(options: LoraOptions) {
    if (!Number.isInteger(options.r) || options.r <= 0) throw new Error(`LoRA rank r must be a positive integer, got ${options.r}`);
    if (!(options.alpha > 0)) throw new Error(`LoRA alpha must be positive, got ${options.alpha}`);
    this.r = options.r;
    this.alpha = options.alpha;
    this.scaling = options.alpha / options.r;
    this.targetModules = options.targetModules ?? DEFAULT_LORA_TARGETS;
    this.prng = new Prng(options.seed ?? 0);
    this.varPrefix = `lora${instanceCounter++}`;
  }

  /** Whether a module (by its full name) is targeted: its last dotted segment is in `targetModules`. */
  targets(moduleName: string): boolean {
    const last = moduleName.slice(moduleName.lastIndexOf('.') + 1);
    return this.targetModules.includes(last);
  }

  /**
   * Create the adapter of a linear layer [out, in] if it is targeted (else undefined).
   * Called in a fixed order by the model builder, so A is reproducible from the seed.
   */
  attach(moduleName: string, inFeatures: number, outFeatures: number): LoraAdapter | undefined {
    if (!this.targets(moduleName)) return undefined;
    if (this.adapters.has(moduleName)) throw new Error(`LoRA adapter "${moduleName}" attached twice`);
    const bound = 1 / Math.sqrt(inFeatures); // kaiming_uniform_(a=√5): gain·√(3/fan_in) = √(1/3)·√(3/in)
    const a = new Float32Array(this.r * inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = this.prng.uniform(-bound, bound);
    // tidy frees the initial values; the variables own their data
    const A = tf.tidy(() => tf.variable(tf.tensor2d(a, [this.r, inFeatures]), true, `${this.varPrefix}/${moduleName}.lora_A`));
    const B = tf.tidy(
      () => tf.variable(tf.zeros([outFeatures, this.r]), true, `${this.varPrefix}/${moduleName}.lora_B`) as tf.Variable<tf.Rank.R2>,
    );
    const adapter: LoraAdapter = { name: moduleName, A, B };
    this.adapters.set(moduleName, adapter);
    return adapter;
  }

  get(moduleName: string): LoraAdapter | undefined {
    return this.adapters.get(moduleName);
  }

  /** Module names with an adapter, in creation order. */
  names(): string[] {
    return [...this.adapters.keys()];
  }

  /** All trainable variables (A and B of every adapter). */
  variables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const ad of this.adapters.values()) out.push(ad.A, ad.B);
    return out;
  }

  /**
   * The adapter weights under PEFT's names
   * (`base_model.model.<module>.lora_A.weight` [r,in], `…lora_B.weight` [out,r]),
   * downloaded, e.g. to write an `adapter_model.safetensors`.
   */
  async exportPeft(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const ad of this.adapters.values()) {
      out.set(`base_model.model.${ad.name}.lora_A.weight`, { shape: ad.A.shape.slice(), data: (await ad.A.data()) as Float32Array });
      out.set(`base_model.model.${ad.name}.lora_B.weight`, { shape: ad.B.shape.slice(), data: (await ad.B.data()) as Float32Array });
    }
    return out;
  }

  dispose(): void {
    for (const ad of this.adapters.values()) {
      ad.A.dispose();
      ad.B.dispose();
    }
    this.adapters.clear();
  }
}

/**
 * A linear layer y = x Wᵀ (+ b) (+ LoRA), W [out, in] as stored by PyTorch.
 * Inputs of any rank are flattened to 2-D for the matMul (a broadcast
 * [B,T,D]×[D,E] matMul has no working gradient in TF.js).
 */
export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    readonly name: string,
    readonly weight: tf.Tensor2D,
    readonly bias: tf.Tensor1D | null = null,
    readonly adapter: LoraAdapter | undefined = undefined,
    readonly scaling = 1,
  ) {
    [this.outFeatures, this.inFeatures] = weight.shape;
  }

  /** x [..., in] → [..., out]. `useLora` adds the adapter's contribution when there is one. */
  apply<T extends tf.Tensor>(x: T, useLora: boolean): T {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]) as tf.Tensor2D;
      let y: tf.Tensor2D = tf.matMul(x2, this.weight, false, true);
      if (this.bias) y = tf.add(y, this.bias);
      if (useLora && this.adapter) {
        const down = tf.matMul(x2, this.adapter.A, false, true); // [N, r]
        const up = tf.matMul(down, this.adapter.B, false, true); // [N, out]
        y = tf.add(y, tf.mul(up, this.scaling));
      }
      return y.reshape([...lead, this.outFeatures]) as T;
    });
  }
}
