"""What keeps a slow or failing store from taking the gateway with it: breakers, adaptive limits."""
