// A loopback model server that speaks the OpenAI chat-completions wire format, streaming
// (server-sent events, with a usage chunk at the end when asked) and not. It answers slowly on
// purpose, so a board test can watch steps stream: a prompt that contains "[slow]" streams
// `slowTokens` tokens, any other `fastTokens`, one every `tokenMs`. `GET /v1/models` lists
// `models`. With `key`, every request must carry `Authorization: Bearer <key>` (else 401, as
// OpenAI answers); each request's authorization header is kept in `authorizations`.
import http from "node:http";

export async function startModelServer({ tokenMs = 90, slowTokens = 50, fastTokens = 6, key = null, models = ["loopback-model"] } = {}) {
  const requests = [];
  const authorizations = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      authorizations.push(req.headers.authorization ?? null);
      if (key && req.headers.authorization !== `Bearer ${key}`) {
        res.writeHead(401, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" } }));
        return;
      }
      if (req.method === "GET" && req.url.endsWith("/models")) {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: models.map((id) => ({ id, object: "model", owned_by: "loopback" })) }));
        return;
      }
      if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) {
        res.writeHead(404, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: "invalid_request_error" } }));
        return;
      }
      let request;
      try {
        request = JSON.parse(body);
      } catch {
        res.writeHead(400, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { message: "body is not JSON", type: "invalid_request_error" } }));
        return;
      }
      requests.push(request);
      const prompt = request.messages?.at(-1)?.content ?? "";
      const count = prompt.includes("[slow]") ? slowTokens : fastTokens;
      // Ten words a line; the last says which call this was, so a step played again answers
      // differently in its last line (the board's file diff has something to show).
      const words = Array.from({ length: count }, (_, i) => `w${i + 1}${(i + 1) % 10 === 0 ? "\n" : " "}`);
      words[0] = `Answer to "${prompt.slice(0, 24).replace(/\s+/g, " ")}": `;
      words[count - 1] = `w${count} (call ${requests.length})\n`;
      const usage = { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: count, total_tokens: Math.ceil(prompt.length / 4) + count };
      const id = `chatcmpl-${requests.length}`;
      if (!request.stream) {
        setTimeout(() => {
          res.writeHead(200, { "Content-Type": "application/json" });
          res.end(JSON.stringify({ id, object: "chat.completion", model: request.model, choices: [{ index: 0, message: { role: "assistant", content: words.join("") }, finish_reason: "stop" }], usage }));
        }, tokenMs * count);
        return;
      }
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
      const chunk = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", model: request.model, choices, ...extra })}\n\n`);
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        if (i < words.length) {
          chunk([{ index: 0, delta: i === 0 ? { role: "assistant", content: words[i] } : { content: words[i] }, finish_reason: null }]);
          i += 1;
          return;
        }
        clearInterval(timer);
        chunk([{ index: 0, delta: {}, finish_reason: "stop" }]);
        if (request.stream_options?.include_usage) chunk([], { usage });
        res.end("data: [DONE]\n\n");
      }, tokenMs);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    authorizations,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
