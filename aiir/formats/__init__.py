"""The building blocks of aiir's YAML formats (:mod:`aiir.formats.schema` has them all)."""
