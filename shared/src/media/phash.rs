//! Photos: a perceptual hash to recognise the same picture sent again (re-encoded, resized,
//! slightly edited), and a small JPEG `data:` URL for vision models and Mem0.
//!
//! Decoding is CPU work: callers run [`analyse`] on the blocking pool. Decoder limits keep a
//! hostile image (a "decompression bomb") from allocating more than [`MAX_DECODE_BYTES`].

use std::io::Cursor;
use std::path::Path;

use base64::Engine;
use image::{DynamicImage, ImageReader, Limits};
use image_hasher::{HashAlg, HasherConfig, ImageHash};

/// Hashes at most this many bits apart are "the same photo" (of 64; re-encoding and small
/// edits stay within a few bits, different photos are typically 20+ apart).
pub const NEAR_DUPLICATE_BITS: u32 = 8;

/// Longest side of the image sent to models.
pub const MODEL_IMAGE_SIDE: u32 = 1024;

/// Decoded pixel memory allowed per image (a 24-megapixel RGBA photo).
pub const MAX_DECODE_BYTES: u64 = 96 * 1024 * 1024;

/// What a photo yields.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Base64 of the 64-bit perceptual hash (`image_hasher` gradient hash).
    pub phash: String,
    /// A JPEG of at most [`MODEL_IMAGE_SIDE`] px, as `data:image/jpeg;base64,…`.
    pub data_url: String,
}

fn hasher() -> image_hasher::Hasher {
    HasherConfig::new().hash_alg(HashAlg::Gradient).hash_size(8, 8).to_hasher()
}

/// Decodes the image at `path` (format from its bytes) under the memory limit.
pub fn decode(path: &Path) -> Result<DynamicImage, image::ImageError> {
    let mut reader = ImageReader::open(path)?.with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode()
}

/// Hash and model image of the photo at `path`.
pub fn analyse(path: &Path) -> Result<Analysis, image::ImageError> {
    let img = decode(path)?;
    Ok(analyse_image(&img))
}

pub fn analyse_image(img: &DynamicImage) -> Analysis {
    let phash = hasher().hash_image(img).to_base64();
    let small = if img.width() > MODEL_IMAGE_SIDE || img.height() > MODEL_IMAGE_SIDE {
        img.thumbnail(MODEL_IMAGE_SIDE, MODEL_IMAGE_SIDE)
    } else {
        img.clone()
    };
    let mut jpeg = Vec::new();
    let encoded =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut jpeg), 80)
            .encode_image(&small.to_rgb8());
    let data_url = match encoded {
        Ok(()) => format!(
            "data:image/jpeg;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&jpeg)
        ),
        Err(_) => String::new(),
    };
    Analysis { phash, data_url }
}

/// Bits differing between two stored hashes; `None` if either is not a hash of ours.
pub fn distance(a: &str, b: &str) -> Option<u32> {
    let a = ImageHash::<Box<[u8]>>::from_base64(a).ok()?;
    let b = ImageHash::<Box<[u8]>>::from_base64(b).ok()?;
    (a.as_bytes().len() == b.as_bytes().len()).then(|| a.dist(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// A diagonal gradient with a bright square; `shift` moves the square.
    pub fn picture(w: u32, h: u32, square_at: u32) -> DynamicImage {
        let img = RgbImage::from_fn(w, h, |x, y| {
            let inside =
                (square_at..square_at + w / 4).contains(&x) && (h / 3..h / 3 + h / 4).contains(&y);
            if inside {
                Rgb([250, 240, 30])
            } else {
                Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 120])
            }
        });
        DynamicImage::ImageRgb8(img)
    }

    #[test]
    fn near_duplicates_are_close_and_different_photos_far() {
        let a = analyse_image(&picture(640, 480, 40));
        // Same picture, a few pixels changed and re-sized.
        let mut edited = picture(640, 480, 40).to_rgb8();
        for x in 0..6 {
            edited.put_pixel(300 + x, 200, Rgb([0, 0, 0]));
        }
        let b = analyse_image(&DynamicImage::ImageRgb8(edited).resize(
            600,
            450,
            image::imageops::FilterType::Triangle,
        ));
        // A different picture: mirrored gradient.
        let c = analyse_image(&DynamicImage::ImageRgb8(image::imageops::rotate180(
            &picture(640, 480, 400).to_rgb8(),
        )));
        let near = distance(&a.phash, &b.phash).unwrap();
        let far = distance(&a.phash, &c.phash).unwrap();
        assert!(near <= NEAR_DUPLICATE_BITS, "near = {near}");
        assert!(far > NEAR_DUPLICATE_BITS, "far = {far}");
        assert_eq!(distance(&a.phash, "not base64!"), None);
    }

    #[test]
    fn large_photos_are_downscaled_for_models() {
        let a = analyse_image(&picture(3000, 2000, 100));
        let b64 = a.data_url.strip_prefix("data:image/jpeg;base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        let small = image::load_from_memory(&bytes).unwrap();
        assert_eq!((small.width(), small.height()), (1024, 683));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"OggS not an image").unwrap();
        assert!(analyse(&p).is_err());
    }
}
