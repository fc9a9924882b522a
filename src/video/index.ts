/** Video I/O through ffmpeg, PNG and contact sheets. */
export { contactSheet, evenlySpaced, type SheetOptions, writeContactSheet } from './contact-sheet.js';
export { type FfmpegLocation, findFfmpeg, findOnPath, runFfmpeg } from './ffmpeg.js';
export { type Mp4Options, type Mp4Writer, openMp4Writer } from './mp4-writer.js';
export { coverImage, crc32, decodePng, encodePng, type RgbImage, readPng, writePng } from './png.js';
export {
  countFrames,
  forEachFrame,
  parseStreamInfo,
  probeVideo,
  readVideo,
  type VideoInfo,
} from './reader.js';
