/**
 * Adam (Kingma & Ba) on the LoRA variables, with the update of `torch.optim.Adam` (β₁ 0.9, β₂ 0.999, ε 1e-8,
 * bias-corrected moments, no weight decay) and a learning rate given at every step (the schedule).
 *
 * Not `tf.train.adam`: its ε is the backend's (1e-7 on CPU, larger on float16 WebGL), so a run resumed on another
 * backend would continue differently; its learning rate is fixed at construction; and its moments are keyed by
 * TF.js variable names that change with every model instance. Here the state is `{ t, m[], v[] }` in the order of
 * the variables, which the trainer stores under PEFT names.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamState {
  /** number of updates applied */
  t: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class Adam {
  readonly beta1 = 0.9;
  readonly beta2 = 0.999;
  readonly epsilon = 1e-8;
  private t = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  constructor(private readonly variables: tf.Variable[]) {
    this.m = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
    this.v = variables.map((x) => tf.tidy(() => tf.variable(tf.zerosLike(x), false)));
  }

  get steps(): number {
    return this.t;
  }

  /** One update with `grads[i]` the gradient of `variables[i]`. */
  apply(grads: tf.Tensor[], lr: number): void {
    if (grads.length !== this.variables.length) throw new Error(`Adam: ${grads.length} gradients for ${this.variables.length} variables`);
    this.t += 1;
    const c1 = 1 - Math.pow(this.beta1, this.t);
    const c2 = 1 - Math.pow(this.beta2, this.t);
    tf.tidy(() => {
      grads.forEach((g, i) => {
        const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon));
        this.variables[i].assign(tf.sub(this.variables[i], tf.mul(update, lr)));
      });
    });
  }

  async exportState(): Promise<AdamState> {
    const m = await Promise.all(this.m.map(async (x) => Float32Array.from((await x.data()) as Float32Array)));
    const v = await Promise.all(this.v.map(async (x) => Float32Array.from((await x.data()) as Float32Array)));
    return { t: this.t, m, v };
  }

  importState(state: AdamState): void {
    if (state.m.length !== this.m.length || state.v.length !== this.v.length) {
      throw new Error(`optimizer state holds moments of ${state.m.length} tensors, the model has ${this.m.length} trainable tensors`);
    }
    state.m.forEach((x, i) => {
      if (x.length !== this.m[i].size || state.v[i].length !== this.v[i].size) throw new Error(`optimizer moment ${i} has ${x.length} values, expected ${this.m[i].size}`);
    });
    tf.tidy(() => {
      state.m.forEach((x, i) => this.m[i].assign(tf.tensor(x, this.m[i].shape)));
      state.v.forEach((x, i) => this.v[i].assign(tf.tensor(x, this.v[i].shape)));
    });
    this.t = state.t;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
