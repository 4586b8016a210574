"""m2v-train: skeleton; its own issue fills it."""

__all__: list[str] = []
