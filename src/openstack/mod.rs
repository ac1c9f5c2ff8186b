//! OBSERVED STATE: the OpenStack side (clouds.yaml, Keystone, Glance).

pub mod image;

pub use image::GlanceImage;
