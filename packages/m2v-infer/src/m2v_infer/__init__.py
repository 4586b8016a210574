"""m2v-infer: skeleton; its own issue fills it."""

__all__: list[str] = []
