"""The model manager's services: framework-free functions over the fleet."""
