// Drives a Cocoon gateway with the official `openai` npm package and prints, as one JSON object, what the package saw.
// Input (stdin, JSON): { baseURL, apiKey, model, chatUser, prompt }. Chat and completions, plain and streamed, greedy.
// The C# test (Cocoon.Gateway.Tests/GenerationNpmTests) compares the results with the engine called directly.
import OpenAI from 'openai';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const client = new OpenAI({ baseURL: input.baseURL, apiKey: input.apiKey, maxRetries: 0 });
const messages = [{ role: 'user', content: input.chatUser }];
const out = {};

const chat = await client.chat.completions.create({ model: input.model, messages, temperature: 0, max_tokens: 20 });
out.chat = {
  id: chat.id, object: chat.object, model: chat.model, role: chat.choices[0].message.role,
  text: chat.choices[0].message.content, finish: chat.choices[0].finish_reason, usage: chat.usage,
};

const chatStream = await client.chat.completions.create({
  model: input.model, messages, temperature: 0, max_tokens: 20, stream: true, stream_options: { include_usage: true },
});
const chatChunks = [];
for await (const chunk of chatStream) chatChunks.push(chunk);
out.chatStream = {
  ids: [...new Set(chatChunks.map((c) => c.id))],
  objects: [...new Set(chatChunks.map((c) => c.object))],
  firstRole: chatChunks[0].choices[0]?.delta?.role ?? null,
  text: chatChunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''),
  finishes: chatChunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f),
  chunks: chatChunks.length,
  usage: chatChunks[chatChunks.length - 1].usage,
  lastChoices: chatChunks[chatChunks.length - 1].choices.length,
};

// The package's own stream helper, which rebuilds the message from the deltas.
const runner = client.chat.completions.stream({ model: input.model, messages, temperature: 0, max_tokens: 20 });
const final = await runner.finalChatCompletion();
out.chatHelper = { text: final.choices[0].message.content, finish: final.choices[0].finish_reason };

const completion = await client.completions.create({ model: input.model, prompt: input.prompt, temperature: 0, max_tokens: 12 });
out.completion = {
  id: completion.id, object: completion.object, text: completion.choices[0].text,
  finish: completion.choices[0].finish_reason, usage: completion.usage,
};

const completionStream = await client.completions.create({
  model: input.model, prompt: input.prompt, temperature: 0, max_tokens: 12, stream: true, stream_options: { include_usage: true },
});
const completionChunks = [];
for await (const chunk of completionStream) completionChunks.push(chunk);
out.completionStream = {
  text: completionChunks.map((c) => c.choices[0]?.text ?? '').join(''),
  finishes: completionChunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f),
  usage: completionChunks[completionChunks.length - 1].usage,
};

try {
  await client.chat.completions.create({ model: input.model, messages, logprobs: true });
  out.refused = null;
} catch (e) {
  out.refused = { status: e.status, code: e.code, param: e.param, type: e.type };
}

process.stdout.write(JSON.stringify(out));
