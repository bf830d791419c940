// Pushing a package with progress: fetch reports no upload progress, XMLHttpRequest does.
import { ApiError, csrfHeaders, errorOf, withQuery } from "../lib/client";
import type { AppVersion } from "./types";

/**
 * POST the zip to /api/v1/apps as multipart field `package`; `onProgress` gets the fraction sent (0 to 1).
 * Resolves to the pushed version; rejects with the API's ApiError (422 invalid_package lists every problem).
 */
export function uploadPackage(
  file: File,
  tenant: string | null,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<AppVersion> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", withQuery("/api/v1/apps", { tenant }));
    request.withCredentials = true;
    request.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(csrfHeaders())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      const answer = new Response(request.responseText, {
        status: request.status,
        statusText: request.statusText,
        headers: { "Content-Type": "application/json" },
      });
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        answer.json().then((body) => { resolve(body as AppVersion); }, reject);
      } else {
        errorOf(answer).then(reject, reject);
      }
    };
    request.onerror = () => {
      reject(new ApiError(0, "unreachable", "Cannot reach the hub: check your connection and try again."));
    };
    request.onabort = () => {
      reject(new ApiError(0, "aborted", "The upload was cancelled."));
    };
    signal?.addEventListener("abort", () => { request.abort(); });
    const form = new FormData();
    form.append("package", file, file.name);
    request.send(form);
  });
}
