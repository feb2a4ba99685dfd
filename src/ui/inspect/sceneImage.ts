import { renderScene } from '../../sandbox/render';
import type { SandboxSelection } from '../../state/inspect/sandboxScene';

/** A sandbox scene's 64×64 picture as a PNG data URL, the pair's image as any picked image is (lossless, not resized). */
export function sceneImage(selection: SandboxSelection): { dataUrl: string; name: string } {
  const { width, height, data } = renderScene(selection.scene, selection.seed);
  const rgba = new ImageData(width, height);
  for (let p = 0; p < width * height; p++) {
    rgba.data.set(data.subarray(p * 3, p * 3 + 3), p * 4);
    rgba.data[p * 4 + 3] = 255;
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.putImageData(rgba, 0, 0);
  return { dataUrl: canvas.toDataURL('image/png'), name: `sandbox scene (${selection.origin})` };
}
