//! One module per subcommand.

pub mod doctor;
pub mod instance;
pub mod notify;
pub mod qr;
pub mod run;
pub mod setup;
