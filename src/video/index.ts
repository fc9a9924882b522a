/** Video I/O through ffmpeg, PNG and contact sheets. */
export { contactSheet, evenlySpaced, type SheetOptions, writeContactSheet } from './contact-sheet.js';
export { type FfmpegLocation, findFfmpeg, findOnPath, runFfmpeg } from './ffmpeg.js';
export { type Mp4Options, type Mp4Writer, openMp4Writer } from './mp4-writer.js';
export { crc32, encodePng, writePng } from './png.js';
export {
  countFrames,
  forEachFrame,
  parseStreamInfo,
  probeVideo,
  readVideo,
  type VideoInfo,
} from './reader.js';
