import { RawImage } from '@huggingface/transformers';

/** A deterministic RGB test image: a red square on a blue ground, its top-left quarter-to-half region red. */
export function squareImage(width = 24, height = 16): RawImage {
  const data = new Uint8ClampedArray(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inSquare = x >= width / 4 && x < (7 * width) / 12 && y >= height / 4 && y < (3 * height) / 4;
      data.set(inSquare ? [220, 30, 30] : [20, 40, 200], (y * width + x) * 3);
    }
  }
  return new RawImage(data, width, height, 3);
}
