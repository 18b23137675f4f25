//! Configuration file schema and conversion into engine configs.
