/**
 * Images view tools, as TensorBoard's image dashboard has them: actual size or fit to the
 * card, one scale for every run of a tag (so a 32 px image is drawn twice as wide as a 16 px
 * one, not both stretched to the same width), brightness and contrast, click to enlarge.
 */
import { h } from "../app";

export type SizeMode = "fit" | "actual";

export interface ImageSettings {
  size: SizeMode;
  brightness: number;
  contrast: number;
}

const KEY = "tsvis-live.images";
/**
 * The scale of every image of a tag whose widest shown image is `maxW` px wide, in a block
 * `contentW` px wide: 1 for actual size; to fit, the widest image fills the block (or its
 * share of a row, `perRow` images of a step side by side, at most 4), by a whole factor when
 * enlarging so that pixels stay square.
 */
export function imageScale(maxW: number, contentW: number, mode: SizeMode, perRow = 1): number {
  if (mode === "actual" || !(maxW > 0)) return 1;
  const k = Math.max(1, Math.min(4, Math.floor(perRow)));
  const width = contentW > 0 ? contentW : 400;
  const target = (width - 8 * (k - 1)) / k;
  const s = target / maxW;
  return s > 1 ? Math.floor(s) : s;
}

export function cssFilter(s: ImageSettings): string {
  return s.brightness === 1 && s.contrast === 1 ? "none" : `brightness(${s.brightness}) contrast(${s.contrast})`;
}

/** The view's toolbar; `onChange` runs after every change (settings are kept across reloads). */
export class ImageToolbar {
  el: HTMLElement;
  s: ImageSettings = { size: "fit", brightness: 1, contrast: 1 };

  constructor(private onChange: (s: ImageSettings) => void) {
    try {
      Object.assign(this.s, JSON.parse(localStorage.getItem(KEY) || "{}"));
    } catch {
      /* ignore */
    }
    const size = h("select", { class: "img-size", "aria-label": "image size" }, h("option", { value: "fit" }, "fit to card"), h("option", { value: "actual" }, "actual size"));
    size.value = this.s.size;
    const slider = (cls: string, label: string, key: "brightness" | "contrast", max: string) => {
      const input = h("input", { type: "range", class: cls, min: "0", max, step: "0.05", value: String(this.s[key]), "aria-label": label });
      const val = h("span", { class: "img-val" }, `${Math.round(this.s[key] * 100)}%`);
      input.addEventListener("input", () => {
        this.s[key] = Number(input.value);
        val.textContent = `${Math.round(this.s[key] * 100)}%`;
        this.changed();
      });
      return { el: h("label", { class: "picker" }, `${label} `, input, val), input, val };
    };
    const b = slider("img-brightness", "brightness", "brightness", "3");
    const c = slider("img-contrast", "contrast", "contrast", "3");
    const reset = h("button", { class: "btn img-reset", title: "brightness and contrast back to 100 %" }, "reset");
    reset.addEventListener("click", () => {
      this.s.brightness = 1;
      this.s.contrast = 1;
      for (const x of [b, c]) { x.input.value = "1"; x.val.textContent = "100%"; }
      this.changed();
    });
    size.addEventListener("change", () => {
      this.s.size = size.value === "actual" ? "actual" : "fit";
      this.changed();
    });
    this.el = h("div", { class: "toolbar image-toolbar" }, h("label", { class: "picker" }, "size ", size), b.el, c.el, reset);
  }

  private changed(): void {
    localStorage.setItem(KEY, JSON.stringify(this.s));
    this.onChange(this.s);
  }
}

let open: { el: HTMLElement; off: () => void } | null = null;

export function closeLightbox(): void {
  if (!open) return;
  open.off();
  open.el.remove();
  open = null;
}

/**
 * Show one image large over the page (as big as fits, whole-factor zoom for small images so
 * pixels stay square); click outside it, the close button or Escape closes it.
 */
export function openLightbox(src: string, caption: string, w: number, ht: number, filter: string): void {
  closeLightbox();
  const availW = window.innerWidth * 0.9, availH = window.innerHeight * 0.8;
  let f = w > 0 && ht > 0 ? Math.min(availW / w, availH / ht) : 1;
  if (f > 1) f = Math.max(1, Math.floor(f));
  const img = h("img", { src, class: "lightbox-img", alt: caption, style: { filter } });
  if (w > 0 && ht > 0) {
    img.style.width = `${Math.round(w * f)}px`;
    img.style.height = `${Math.round(ht * f)}px`;
  }
  const close = h("button", { class: "btn lightbox-close", "aria-label": "close" }, "✕");
  const el = h("div", { class: "lightbox", role: "dialog", "aria-modal": "true", "aria-label": caption },
    h("figure", {}, img, h("figcaption", {}, caption, w > 0 ? ` · ${w}×${ht} px, shown ×${Math.round(f * 100) / 100}` : "")), close);
  el.addEventListener("click", (e) => {
    if (e.target === el || e.target === close) closeLightbox();
  });
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") closeLightbox();
  };
  document.addEventListener("keydown", onKey);
  document.body.append(el);
  close.focus();
  open = { el, off: () => document.removeEventListener("keydown", onKey) };
}
