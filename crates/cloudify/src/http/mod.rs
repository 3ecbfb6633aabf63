//! The local HTTP port (`http.listen`): `GET /healthz` for s6 and Docker, `POST /api/notify`
//! for scripts (notify token or admin token) and `POST /api/reset-qr` for the CLI (admin token
//! only: the notify token gets 403).

pub mod client;
mod server;

pub use server::{HttpState, serve};
