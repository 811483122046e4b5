pub mod accounts;
pub mod server_config;
