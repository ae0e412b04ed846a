/** REST helpers. URLs are relative so the dashboard works wherever it is mounted. */

export class ApiError extends Error {
  constructor(message: string, public status: number) {
    super(message);
  }
}

export function url(path: string, params: Record<string, string | number | boolean | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const qs = q.toString();
  return `api/${path}${qs ? "?" + qs : ""}`;
}

/** Unwrap the TS-VIS envelope {code, msg, data} when present. */
export function unwrap(j: any): any {
  if (j && typeof j === "object" && !Array.isArray(j) && "code" in j && "data" in j) {
    if (j.code !== 200) throw new ApiError(String(j.msg ?? "error"), Number(j.code));
    return j.data;
  }
  return j;
}

export async function getJSON(path: string, params: Record<string, any> = {}, signal?: AbortSignal): Promise<any> {
  const r = await getResponse(path, params, signal);
  return unwrap(await r.json());
}

export async function getResponse(path: string, params: Record<string, any> = {}, signal?: AbortSignal): Promise<Response> {
  const r = await fetch(url(path, params), { signal, credentials: "same-origin" });
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      const j = await r.json();
      if (j && j.msg) msg = String(j.msg);
    } catch {
      /* not JSON */
    }
    throw new ApiError(msg, r.status);
  }
  return r;
}

/** A paged media list: follows offset/limit until X-Total-Count entries were read. */
export async function getPaged(path: string, params: Record<string, any>, tag: string, pageSize = 500): Promise<any[]> {
  const out: any[] = [];
  for (let page = 0; page < 200; page++) {
    const r = await getResponse(path, { ...params, offset: out.length, limit: pageSize });
    const data = unwrap(await r.json());
    const list: any[] = Array.isArray(data) ? data : (data && data[tag]) || [];
    out.push(...list);
    const total = Number(r.headers.get("X-Total-Count"));
    if (!Number.isFinite(total) || !r.headers.has("X-Total-Count") || out.length >= total || list.length === 0) break;
  }
  return out;
}

/** TS-VIS graph/embedding payloads may be JSON strings inside the envelope. */
export function maybeParse(v: any): any {
  if (typeof v === "string") {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}
