"""Server adapters: each turns a server protocol into Requests and Responses into bytes."""
