//! iin-gateway: the integration gateway between the State Corporation's intake
//! systems and the MVD information system for forming IINs of foreigners.

pub mod domain;
pub mod storage;
