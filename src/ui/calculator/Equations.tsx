import katex from 'katex';
import 'katex/dist/katex.min.css';
import type { AspoResult, Normalization } from '../../aspo';
import type { Side } from '../../state/calculatorStore';
import type { SentenceRow } from './compute';

function n(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '\\text{—}';
  return x.toFixed(4);
}

function Tex({ source, label }: { source: string; label: string }) {
  const html = katex.renderToString(source, { throwOnError: false, displayMode: true });
  return <div className="equation" aria-label={label} dangerouslySetInnerHTML={{ __html: html }} />;
}

const LAMBDA_TEX: Record<Normalization, string> = {
  mean: '\\lambda = \\frac{K}{\\sum_i (1 + w_i)}',
  'reward-ratio': '\\lambda = \\operatorname{sg}\\!\\left(\\frac{R_c}{R^*_c}\\right)',
  none: '\\lambda = 1',
};

interface EquationsProps {
  chosen: SentenceRow[];
  rejected: SentenceRow[];
  result: AspoResult | null;
  focus: { side: Side; index: number };
  alpha: number;
  beta: number;
  normalization: Normalization;
}

/** The paper's equations with the focused sentence's current numbers substituted, so each value can be followed by hand. */
export function Equations({ chosen, rejected, result, focus, alpha, beta, normalization }: EquationsProps) {
  const i = Math.min(focus.side === 'chosen' ? focus.index : 0, chosen.length - 1);
  const c = chosen[i];
  const rows = focus.side === 'rejected' ? rejected : chosen;
  const r = rows[Math.min(focus.index, rows.length - 1)];
  if (!c || !r) return null;
  const sims = chosen.map((s) => s.numbers.similarity);
  const ppls = chosen.map((s) => s.perplexity);
  const [sMin, sMax, pMin, pMax] = [Math.min(...sims), Math.max(...sims), Math.min(...ppls), Math.max(...ppls)];
  const k = i + 1;
  const rk = Math.min(focus.index, rows.length - 1) + 1;
  const side = focus.side === 'rejected' ? 'r' : 'c';
  return (
    <section className="equations" aria-label="Equations with current values">
      <h2>
        Equations for chosen sentence {k}
        {focus.side === 'rejected' ? ` (rewards: rejected sentence ${rk})` : ''}
      </h2>
      <Tex
        label="Equation 7"
        source={`\\text{(7)}\\; \\hat S_{${k}} = \\frac{S_{${k}} - \\min_j S_j}{\\max_j S_j - \\min_j S_j} = \\frac{${n(c.numbers.similarity)} - ${n(sMin)}}{${n(sMax)} - ${n(sMin)}} = ${n(c.simNorm)}`}
      />
      <Tex
        label="Equation 9"
        source={`\\text{(9)}\\; \\mathrm{PPL}_{${k}} = \\exp\\!\\Big(-\\tfrac{1}{n_{${k}}}\\sum_{t\\in s_{${k}}} \\ell_t\\Big) = \\exp\\!\\Big(-\\tfrac{1}{${c.numbers.tokens}}\\cdot ${n(c.perplexity > 0 ? -Math.log(c.perplexity) * c.numbers.tokens : undefined)}\\Big) = ${n(c.perplexity)}`}
      />
      <Tex
        label="Perplexity normalisation"
        source={`\\hat P_{${k}} = \\frac{\\max_j \\mathrm{PPL}_j - \\mathrm{PPL}_{${k}}}{\\max_j \\mathrm{PPL}_j - \\min_j \\mathrm{PPL}_j} = \\frac{${n(pMax)} - ${n(c.perplexity)}}{${n(pMax)} - ${n(pMin)}} = ${n(c.pplNorm)}`}
      />
      <Tex
        label="Equation 10"
        source={`\\text{(10)}\\; w_{${k}} = \\alpha \\hat S_{${k}} + (1-\\alpha)\\hat P_{${k}} = ${n(alpha)}\\cdot${n(c.simNorm)} + ${n(1 - alpha)}\\cdot${n(c.pplNorm)} = ${n(c.weight)}`}
      />
      <Tex
        label="Equation 11"
        source={`\\text{(11)}\\; r^{${side}}_{${rk}} = \\beta \\sum_{t\\in s_{${rk}}} (\\ell^\\theta_t - \\ell^{\\mathrm{ref}}_t) = ${n(beta)}\\cdot(${n(r.numbers.policyLogp)} - (${n(r.numbers.refLogp)})) = ${n(r.reward)}`}
      />
      {result && (
        <>
          <Tex
            label="Equation 12"
            source={`\\text{(12)}\\; M^* = \\lambda \\sum_i (1+w_i)\\, r^c_i - R_r = ${n(result.lambda)}\\cdot ${n(result.rewardChosenWeighted)} - (${n(result.rewardRejected)}) = ${n(result.margin)}, \\quad ${LAMBDA_TEX[normalization]} = ${n(result.lambda)}`}
          />
          <Tex
            label="Equation 13"
            source={`\\text{(13)}\\; \\mathcal{L}_{\\mathrm{ASPO}} = -\\log\\sigma(M^*) = ${n(result.loss)}, \\qquad \\mathcal{L}_{\\mathrm{DPO}} = -\\log\\sigma(R_c - R_r) = ${n(result.dpoLoss)}`}
          />
        </>
      )}
    </section>
  );
}
