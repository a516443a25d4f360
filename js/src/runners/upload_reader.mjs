// A model source whose reads report the weights' upload to the GPU as load progress.
export function uploadReader(source, onProgress) {
  let uploaded = 0;
  return {
    size: source.size,
    read: async (offset, length) => {
      const bytes = await source.read(offset, length);
      uploaded += bytes.length;
      onProgress?.({ phase: 'upload', loaded: Math.min(uploaded, source.size), total: source.size });
      return bytes;
    },
  };
}
