//! The `yizhan` package as a library: the station window ([`app`]) and the demo county ([`demo`]), so that the binary, the demo
//! county and the window's tests build on the same code.

pub mod app;
pub mod demo;
