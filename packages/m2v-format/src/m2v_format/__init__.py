"""m2v-format: reference reader, writer and validator for the m2v model format."""
