//! iin-gateway: the integration gateway between the State Corporation's intake
//! systems and the MVD information system for forming IINs of foreigners.

pub mod audit;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod http;
pub mod matching;
pub mod mvd_sim;
pub mod registry;
pub mod replay;
pub mod service;
pub mod storage;
pub mod telemetry;
