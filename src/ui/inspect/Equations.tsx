import katex from 'katex';
import 'katex/dist/katex.min.css';
import { ASPO_SETTINGS, choiceOf, type AspoResult, type Normalization, type PerplexitySource } from '../../aspo';
import type { Side } from '../../state/inspectStore';
import type { SentenceRow } from '../../state/inspect/compute';

function n(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '\\text{—}';
  return x.toFixed(4);
}

/** Symbolic form on the first line, the numbers substituted on the second, so a narrow panel never clips either. */
function Tex({ lhs, symbolic, numeric, label }: { lhs: string; symbolic: string; numeric: string; label: string }) {
  const source = `\\begin{aligned} ${lhs} &= ${symbolic} \\\\ &= ${numeric} \\end{aligned}`;
  const html = katex.renderToString(source, { throwOnError: false, displayMode: true });
  return <div className="equation" aria-label={label} dangerouslySetInnerHTML={{ __html: html }} />;
}

interface EquationsProps {
  chosen: SentenceRow[];
  rejected: SentenceRow[];
  result: AspoResult | null;
  focus: { side: Side; index: number };
  alpha: number;
  beta: number;
  normalization: Normalization;
  perplexitySource: PerplexitySource;
}

/** The paper's equations with the focused sentence's current numbers substituted, so each value can be followed by hand. */
export function Equations({ chosen, rejected, result, focus, alpha, beta, normalization, perplexitySource }: EquationsProps) {
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
  const sumForPerplexity = perplexitySource === 'policy' ? c.numbers.policyLogp : c.numbers.refLogp;
  return (
    <section className="equations" aria-label="Equations with current values">
      <h2>
        Equations for chosen sentence {k}
        {focus.side === 'rejected' ? ` (rewards: rejected sentence ${rk})` : ''}
      </h2>
      <Tex
        label="Equation 7"
        lhs={`\\text{(7)}\\; \\hat S_{${k}}`}
        symbolic={`\\frac{S_{${k}} - \\min_j S_j}{\\max_j S_j - \\min_j S_j}`}
        numeric={`\\frac{${n(c.numbers.similarity)} - ${n(sMin)}}{${n(sMax)} - ${n(sMin)}} = ${n(c.simNorm)}`}
      />
      <Tex
        label="Equation 9"
        lhs={`\\text{(9)}\\; \\mathrm{PPL}_{${k}}`}
        symbolic={`\\exp\\Big(-\\tfrac{1}{n_{${k}}}\\textstyle\\sum_{t\\in s_{${k}}} ${choiceOf(ASPO_SETTINGS.perplexitySource, perplexitySource).tex}\\Big)`}
        numeric={`\\exp\\big(-\\tfrac{1}{${c.numbers.tokens}}\\cdot (${n(sumForPerplexity)})\\big) = ${n(c.perplexity)}`}
      />
      <Tex
        label="Perplexity normalisation"
        lhs={`\\hat P_{${k}}`}
        symbolic={`\\frac{\\max_j \\mathrm{PPL}_j - \\mathrm{PPL}_{${k}}}{\\max_j \\mathrm{PPL}_j - \\min_j \\mathrm{PPL}_j}`}
        numeric={`\\frac{${n(pMax)} - ${n(c.perplexity)}}{${n(pMax)} - ${n(pMin)}} = ${n(c.pplNorm)}`}
      />
      <Tex
        label="Equation 10"
        lhs={`\\text{(10)}\\; w_{${k}}`}
        symbolic={`\\alpha \\hat S_{${k}} + (1-\\alpha)\\hat P_{${k}}`}
        numeric={`${n(alpha)}\\cdot${n(c.simNorm)} + ${n(1 - alpha)}\\cdot${n(c.pplNorm)} = ${n(c.weight)}`}
      />
      <Tex
        label="Equation 11"
        lhs={`\\text{(11)}\\; r^{${side}}_{${rk}}`}
        symbolic={`\\beta \\textstyle\\sum_{t\\in s_{${rk}}} (\\ell^\\theta_t - \\ell^{\\mathrm{ref}}_t)`}
        numeric={`${n(beta)}\\cdot\\big((${n(r.numbers.policyLogp)}) - (${n(r.numbers.refLogp)})\\big) = ${n(r.reward)}`}
      />
      {result && (
        <>
          <Tex
            label="Equation 12"
            lhs={`\\text{(12)}\\; M^*`}
            symbolic={`\\lambda \\textstyle\\sum_i (1+w_i)\\, r^c_i - R_r`}
            numeric={`${n(result.lambda)}\\cdot (${n(result.rewardChosenWeighted)}) - (${n(result.rewardRejected)}) = ${n(result.margin)}`}
          />
          <Tex label="Length normalisation" lhs="\lambda" symbolic={choiceOf(ASPO_SETTINGS.normalization, normalization).tex} numeric={n(result.lambda)} />
          <Tex
            label="Equation 13"
            lhs={`\\text{(13)}\\; \\mathcal{L}_{\\mathrm{ASPO}}`}
            symbolic="-\log\sigma(M^*)"
            numeric={`-\\log\\sigma(${n(result.margin)}) = ${n(result.loss)}`}
          />
          <Tex
            label="DPO loss"
            lhs="\mathcal{L}_{\mathrm{DPO}}"
            symbolic="-\log\sigma(R_c - R_r)"
            numeric={`-\\log\\sigma(${n(result.dpoMargin)}) = ${n(result.dpoLoss)}`}
          />
        </>
      )}
    </section>
  );
}
