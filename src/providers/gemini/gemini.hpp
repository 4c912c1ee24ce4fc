#pragma once
// Google Gemini adapters (wire_formats.md §3): the Gemini Developer API ("AI Studio",
// generativelanguage.googleapis.com) and Gemini on Vertex AI
// ({location}-aiplatform.googleapis.com). Both speak the same GenerateContent bodies, SSE stream
// and RPC-style errors; only the request path differs. Pure translators: no I/O, clock, logging or
// globals.
//
// The engine adds the origin and the auth: `x-goog-api-key: <key>` for AI Studio, `Authorization:
// Bearer <OAuth token>` for Vertex AI (whose host depends on opts.location: "global" →
// aiplatform.googleapis.com, else "<location>-aiplatform.googleapis.com").
#include "providers/common/adapter.hpp"

namespace llmux::providers::gemini {

// AI Studio: POST /v1beta/models/{upstreamModel}:generateContent, or
// :streamGenerateContent?alt=sse when opts.stream. opts.apiVersion ("v1", "v1alpha") replaces
// "v1beta" when set.
const providers::Adapter& adapter();

// Vertex AI: POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}
// :generateContent (or :streamGenerateContent?alt=sse). opts.project and opts.location are
// required; opts.apiVersion ("v1beta1") replaces "v1" when set.
const providers::Adapter& vertexAdapter();

}  // namespace llmux::providers::gemini
