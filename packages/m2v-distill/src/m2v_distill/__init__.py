"""m2v-distill: skeleton; its own issue fills it."""

__all__: list[str] = []
