/*
 * Glue between Uppy's @uppy/aws-s3 plugin (5.x, the line with the createMultipartUpload, signPart,
 * listParts, completeMultipartUpload and abortMultipartUpload options) and mediahub's upload API.
 *
 *   const uppy = new Uppy.Uppy();
 *   uppy.use(Uppy.AwsS3, mediahubUppy(uppy, { headers: { "X-CSRFToken": csrfToken } }));
 *
 * A pre-processor creates each media (POST /api/media/) before Uppy cuts the file, so the parts are
 * the size mediahub chose; the server decides single PUT or multipart; a post-processor confirms
 * each uploaded file and puts the media (GET shape) in file.meta.media.
 */
"use strict";

window.mediahubUppy = function mediahubUppy(uppy, { api = "/api/media/", headers = {} } = {}) {
  const partSizes = new WeakMap(); // the file's data -> the part size mediahub cut it into

  async function call(url, method, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok && response.status !== 409 && response.status !== 422) {
      throw new Error((data && data.error && data.error.message) || `mediahub answered HTTP ${response.status}`);
    }
    return { status: response.status, data };
  }
  const media = (file, path = "") => `${api}${file.meta.mediaId}/${path}`;

  uppy.addPreProcessor(async (fileIDs) => {
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      if (file.meta.mediaId) continue;
      const { data } = await call(api, "POST", {
        filename: file.name,
        content_type: file.type || "application/octet-stream",
        size: file.size,
      });
      if (data.upload.part_size) partSizes.set(file.data, data.upload.part_size);
      uppy.setFileMeta(id, { mediaId: data.id, upload: data.upload });
    }
  });

  uppy.addPostProcessor(async (fileIDs) => {
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      if (!file || file.error) continue;
      const { data } = await call(media(file, "confirm/"), "POST");
      uppy.setFileMeta(id, { media: data });
    }
  });

  return {
    shouldUseMultipart: (file) => file.meta.upload.method === "MULTIPART",
    getChunkSize: (data) => partSizes.get(data),
    getUploadParameters: (file) => ({
      method: "PUT",
      url: file.meta.upload.url,
      headers: file.meta.upload.headers,
      fields: {},
    }),
    createMultipartUpload: (file) => ({ uploadId: file.meta.upload.upload_id, key: file.meta.mediaId }),
    signPart: async (file, { partNumber }) => {
      const { data } = await call(media(file, "parts/"), "POST", { part_numbers: [partNumber] });
      return { url: data.parts[0].url, headers: data.parts[0].headers };
    },
    listParts: async (file) => {
      const { data } = await call(media(file, "parts/"), "GET");
      return data.parts.map((part) => ({ PartNumber: part.part_number, Size: part.size, ETag: part.etag }));
    },
    completeMultipartUpload: async (file, { parts }) => {
      const body = { parts: parts.map((part) => ({ part_number: part.PartNumber, etag: part.ETag })) };
      const { status, data } = await call(media(file, "complete/"), "POST", body);
      if (status !== 200) throw new Error(data.error.message);
      return {};
    },
    abortMultipartUpload: (file) => call(media(file, "upload/"), "DELETE"),
  };
};
