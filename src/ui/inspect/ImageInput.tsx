import { useEffect, useState, type DragEvent } from 'react';
import { useInspect } from '../../state/inspectStore';

/** Longest side kept: enough for CLIP (224) and SmolVLM's processor, small enough to keep across reloads. */
const MAX_SIDE = 512;

async function toStoredImage(file: Blob, name: string): Promise<{ dataUrl: string; name: string }> {
  if (!file.type.startsWith('image/')) throw new Error(`${name} is not an image (type "${file.type || 'unknown'}")`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${name} could not be decoded as an image`);
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return { dataUrl: canvas.toDataURL('image/png'), name };
}

/** The pair's image: picked, dropped or pasted. */
export function ImageInput() {
  const { image, setImage, sandbox } = useInspect();
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);

  const accept = async (file: Blob | null | undefined, name: string) => {
    if (!file) return;
    try {
      setImage(await toStoredImage(file, name));
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const item = [...(e.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'));
      if (item) void accept(item.getAsFile(), 'pasted image');
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  });

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const file = e.dataTransfer.files[0];
    void accept(file, file?.name ?? 'dropped file');
  };

  return (
    <section
      className={`image-input${dragging ? ' dragging' : ''}`}
      aria-label="Image"
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <span className="field-title">Image (I)</span>
      {image ? (
        <figure className={`image-preview${sandbox ? ' sandbox' : ''}`}>
          <img src={image.dataUrl} alt={`The pair's image: ${image.name}`} data-testid="image-preview" />
          <figcaption>
            {image.name}{' '}
            <button type="button" onClick={() => setImage(null)}>
              Remove
            </button>
          </figcaption>
        </figure>
      ) : (
        <p className="image-hint">Drop an image here, paste one, or pick a file.</p>
      )}
      <label className="file-pick">
        <span>Pick an image…</span>
        <input
          type="file"
          accept="image/*"
          data-testid="image-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            // An input keeps its file: without clearing it, picking the same file again (after Remove) fires no change.
            e.target.value = '';
            void accept(file, file?.name ?? 'image');
          }}
        />
      </label>
      {error && (
        <p role="alert" className="field-error">
          {error}
        </p>
      )}
    </section>
  );
}
