"""The building blocks of aiir's YAML formats (:mod:`aiir.schema` has them all)."""
