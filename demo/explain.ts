// What to tell a person about an error: a title, the library's message (which already names the problem), and what
// to do about it. The library's error classes cross the worker boundary by name.

export interface Explained {
  title: string;
  message: string;
  hint?: string;
}

const SMALLER_MODELS = 'Pick a smaller model: the demo model, distilbert/distilgpt2 or openai-community/gpt2.';

export function explain(error: unknown): Explained {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  switch (name) {
    case 'WebGpuUnavailableError':
      return {
        title: 'WebGPU is not available',
        message,
        hint: isSecureContext
          ? 'Use a browser with WebGPU: Chrome or Edge 113+ (Windows, macOS, ChromeOS), Chrome 121+ on Android, Safari 26+, or Firefox 141+ on Windows. ' +
            'On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu and a Vulkan driver. Check that hardware acceleration is on in the browser settings.'
          : 'WebGPU only exists in secure contexts: open this page over https:// or from http://localhost.',
      };
    case 'GpuLimitError':
      return { title: 'This model does not fit this GPU', message, hint: SMALLER_MODELS };
    case 'OutOfMemoryError':
      return { title: 'The GPU ran out of memory', message, hint: `Close other tabs or apps that use the GPU, or ${SMALLER_MODELS.charAt(0).toLowerCase()}${SMALLER_MODELS.slice(1)}` };
    case 'DownloadError':
      return {
        title: 'The model could not be downloaded',
        message,
        hint: 'Check the model id or URL. The folder must hold config.json, model.safetensors (or shards with model.safetensors.index.json) and tokenizer files; a server other than the Hub must allow CORS.',
      };
    case 'ConfigError':
    case 'ModelFormatError':
    case 'SafetensorsError':
    case 'TokenizerError':
      return {
        title: 'This model cannot be loaded',
        message,
        hint: 'This app runs GPT-2 (gpt2, distilgpt2) and GPT-NeoX (Pythia) checkpoints in the Hugging Face layout, with safetensors weights.',
      };
    case 'DeviceLostError':
      return { title: 'The GPU device was lost', message, hint: 'Press Load to load the model again on a new device. If it keeps happening, close other GPU-heavy tabs or pick a smaller model.' };
    case 'GpuError':
      return { title: 'The GPU reported an error', message, hint: 'Reload the page. If it happens again with the same model and settings, please report it with the adapter shown on the left.' };
    case 'ContextWindowExceededError':
      return { title: 'This request does not fit the context window', message, hint: 'Lower "Max new tokens" or shorten the prompt: the prompt and the new tokens together must fit the model\'s context (shown on the left).' };
    case 'InvalidRequestError':
      return { title: 'This request cannot be run', message };
    case 'Cancelled':
      return { title: 'Cancelled', message };
    case 'NoModelError':
      return { title: 'No model is loaded', message, hint: 'Load a model on the left first.' };
    default:
      return { title: 'Something went wrong', message, hint: 'Reload the page and try again.' };
  }
}
