pub mod wire_to_domain;
