//! No statement or transaction on a request path touches two org schemas.
