package handlers

// RenderClient exposes the representation and ETag of a client to the
// tests, which check every event's patch against them.
var RenderClient = renderClient
