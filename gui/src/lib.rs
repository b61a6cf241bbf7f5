//! The `yizhan` package as a library: the station window ([`app`]), the demo county ([`demo`])
//! the progress page (办件查询, [`web`]) and the notice sender ([`notices`]), so that the binary, the demo county and the
//! window's tests build on the same code.

pub mod app;
pub mod demo;
pub mod notices;
pub mod web;
