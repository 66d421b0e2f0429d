"""The studies: what a study is (`base`), which models it reads (`selection`), the registry
that assembles them, and one folder per study."""
