// Calls the Skiff gateway with the official openai npm package, as a user
// would: list models, one answer, one stream with usage. Prints one JSON
// object with what it saw. Environment: BASE_URL, API_KEY, MODEL.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const model = process.env.MODEL;
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const answer = await client.chat.completions.create({
  model,
  max_tokens: 8,
  messages: [{ role: "user", content: "Tell me about the harbor." }],
});
out.content = answer.choices[0].message.content;
out.usage = answer.usage;

const stream = await client.chat.completions.create({
  model,
  max_tokens: 8,
  stream: true,
  stream_options: { include_usage: true },
  messages: [{ role: "user", content: "And the boats?" }],
});
out.chunks = 0;
out.streamed = "";
for await (const chunk of stream) {
  if (chunk.choices.length > 0) {
    out.chunks++;
    out.streamed += chunk.choices[0].delta.content ?? "";
  }
  if (chunk.usage) out.streamUsage = chunk.usage;
}

try {
  await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] });
} catch (e) {
  out.notFound = { status: e.status, type: e.error?.type ?? e.type };
}
console.log(JSON.stringify(out));
