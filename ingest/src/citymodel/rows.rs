//! From a city model to store rows (being written).
