//! The local HTTP port (`http.listen`): `GET /healthz` for s6 and Docker, and the
//! bearer-protected `POST /api/notify` and `POST /api/reset-qr` for scripts and the CLI.

pub mod client;
mod server;

pub use server::{HttpState, serve};
