//! Yizhan station core.
pub mod calendar;
pub mod catalog;
pub mod idcard;
pub mod station;
