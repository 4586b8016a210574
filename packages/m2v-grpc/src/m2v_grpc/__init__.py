"""m2v-grpc: skeleton; its own issue fills it."""

__all__: list[str] = []
