#!/usr/bin/env python3
"""shardrt against the reference implementations themselves (issue 16, item 3).

For each family shardrt implements, this builds a small random model with Hugging Face
transformers (float32), saves it with save_pretrained (config.json and model.safetensors, as a
checkpoint of that family is published), runs `shardrt run` on it under several strategies with
`model.hf_config` and `--weights`, and compares shardrt's output (`--dump`'s output.npy, the
hidden states after the final norm) with what transformers computes from the same input
(`model.model(inputs_embeds=input).last_hidden_state`): normwise relative error at most 1e-5.

Each family's last output is also compared with transformers' for the same weights without the
feature under test (Llama 3.1's rope scaling, Mistral's sliding window, Mixtral's top-2 routing,
Qwen2's q/k/v biases, Qwen3's q/k norm, Qwen3-MoE's norm_topk_prob, Qwen2-MoE's shared-expert
gate, GLM-4.5's router choice bias): that comparison must fail, which shows the check can tell the feature is there. MoE
families also run from a checkpoint in transformers v5's fused-expert layout.

Token level (issue 17): `shardrt generate --weights` on the same checkpoint, under the first
and the last strategy, must choose the tokens transformers' greedy `generate` chooses for two
prompts of different lengths (the row also gives the smallest gap between a step's two largest
logits, to show how near a tie any choice was).

    hf_crosscheck.py SHARDRT_BINARY WORK_DIR [--mpirun MPIRUN] [--families llama31,mixtral,...]

Needs torch, transformers, safetensors and numpy (scripts/hf-crosscheck.sh makes a virtual
environment with them); prints one table row per run and exits 1 when any comparison fails.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import safetensors.torch
import torch
import transformers

TOLERANCE = 1e-5


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def randomise(model, seed):
    """Weights like shardrt's generated ones, O(1) activations through the layers: linear
    weights uniform in [-1, 1) / sqrt(fan_in), norm weights 1 + 0.1 * uniform. transformers'
    own init (normal, std 0.02) would leave the layers near the identity and test little."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() in (2, 3):  # 3: transformers v5's fused experts, (experts, out, in)
                p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / p.shape[-1] ** 0.5)
            elif "norm" in name:
                p.copy_(1 + 0.1 * (torch.rand(p.shape, generator=g) * 2 - 1))
            elif name.endswith("_proj.bias"):
                p.copy_(0.5 * (torch.rand(p.shape, generator=g) * 2 - 1))
            else:
                raise SystemExit(f"hf_crosscheck: no rule for parameter {name} {tuple(p.shape)}")
        for name, b in model.named_buffers():
            # DeepSeek-V3's and GLM-4.5's router bias, zero at init: about the spread of the
            # sigmoid scores, so that it changes choices without deciding them alone.
            if name.endswith("e_score_correction_bias"):
                b.copy_(0.1 * (torch.rand(b.shape, generator=g) * 2 - 1))


def families():
    """name -> (config, strategies, a config without the feature under test or the name of a
    tensor to zero instead, what it drops)."""
    llama31 = transformers.LlamaConfig(
        vocab_size=97, hidden_size=192, intermediate_size=328, num_hidden_layers=3,
        num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-5,
        max_position_embeddings=2048, rope_theta=500000.0,
        # Llama 3.1's scaling with a short original context, so that all three bands occur
        # at head_dim 32 and the scaling moves the result well past the tolerance.
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
    llama31_plain = transformers.LlamaConfig(**{**llama31.to_dict(), "rope_scaling": None,
                                                "rope_parameters": {"rope_type": "default",
                                                                    "rope_theta": 500000.0}})
    mistral = transformers.MistralConfig(
        vocab_size=97, hidden_size=160, intermediate_size=320, num_hidden_layers=3,
        num_attention_heads=5, num_key_value_heads=1, head_dim=32, rms_norm_eps=1e-5,
        rope_theta=1e6, sliding_window=16)  # shorter than seq_len 37: the window masks
    mistral_no_window = transformers.MistralConfig(**{**mistral.to_dict(), "sliding_window": None})
    mixtral = transformers.MixtralConfig(
        vocab_size=97, hidden_size=128, intermediate_size=88, num_hidden_layers=2,
        num_attention_heads=8, num_key_value_heads=4, num_local_experts=6, num_experts_per_tok=2,
        rms_norm_eps=1e-5, router_jitter_noise=0.0)
    mixtral_top1 = transformers.MixtralConfig(**{**mixtral.to_dict(), "num_experts_per_tok": 1})
    qwen2 = transformers.Qwen2Config(
        vocab_size=97, hidden_size=192, intermediate_size=336, num_hidden_layers=3,
        num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1e6)
    qwen3 = transformers.Qwen3Config(
        vocab_size=97, hidden_size=160, intermediate_size=336, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, head_dim=48, rms_norm_eps=1e-6,
        rope_theta=1e6)
    qwen3_moe = transformers.Qwen3MoeConfig(
        vocab_size=97, hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
        num_experts=6, num_experts_per_tok=2, norm_topk_prob=True, decoder_sparse_step=1,
        mlp_only_layers=[2], rms_norm_eps=1e-6, rope_theta=1e6)  # layer 2 dense
    qwen3_moe_raw = transformers.Qwen3MoeConfig(**{**qwen3_moe.to_dict(), "norm_topk_prob": False})
    qwen2_moe = transformers.Qwen2MoeConfig(
        vocab_size=97, hidden_size=128, intermediate_size=192, moe_intermediate_size=48,
        shared_expert_intermediate_size=80, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=4, num_experts=6, num_experts_per_tok=3, norm_topk_prob=False,
        decoder_sparse_step=1, rms_norm_eps=1e-6, rope_theta=1e6)
    glm4_moe = transformers.Glm4MoeConfig(
        vocab_size=97, hidden_size=128, intermediate_size=224, moe_intermediate_size=40,
        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=40,
        n_routed_experts=12, num_experts_per_tok=3, n_shared_experts=1, n_group=4, topk_group=2,
        routed_scaling_factor=2.5, first_k_dense_replace=1, norm_topk_prob=True,
        attention_bias=True, use_qk_norm=True, partial_rotary_factor=0.5, rms_norm_eps=1e-5,
        rope_theta=1e6)
    # DeepSeek-V3: latent attention (q and kv latents, interleaved rope dims, v narrower than
    # q/k) under YaRN (frequencies ramped over the dims, scores x mscale^2), its router (choice
    # bias, 2 of 4 groups, x 2.5), a dense first layer.
    yarn = {"rope_type": "yarn", "factor": 40.0, "original_max_position_embeddings": 4096,
            "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0,
            "rope_theta": 10000.0}
    deepseek_v3 = transformers.DeepseekV3Config(
        vocab_size=97, hidden_size=128, intermediate_size=224, moe_intermediate_size=40,
        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, n_routed_experts=12,
        num_experts_per_tok=3, n_shared_experts=1, n_group=4, topk_group=2,
        routed_scaling_factor=2.5, first_k_dense_replace=1, norm_topk_prob=True,
        kv_lora_rank=36, q_lora_rank=40, qk_rope_head_dim=8, v_head_dim=14, qk_nope_head_dim=16,
        rms_norm_eps=1e-6, max_position_embeddings=163840, rope_parameters=dict(yarn))
    deepseek_v3_plain = transformers.DeepseekV3Config(**{
        **deepseek_v3.to_dict(), "rope_parameters": {"rope_type": "default", "rope_theta": 1e4}})
    # DeepSeek-V2: q straight from q_proj (no q latent), softmax routing limited to 2 of 4
    # groups by their best score, not renormalised, x 2; two shared experts; V2's YaRN mscales.
    deepseek_v2 = transformers.DeepseekV2Config(
        vocab_size=97, hidden_size=128, intermediate_size=224, moe_intermediate_size=40,
        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, n_routed_experts=12,
        num_experts_per_tok=3, n_shared_experts=2, n_group=4, topk_group=2,
        topk_method="group_limited_greedy", routed_scaling_factor=2.0, first_k_dense_replace=1,
        norm_topk_prob=False, kv_lora_rank=36, q_lora_rank=None, qk_rope_head_dim=8,
        v_head_dim=14, qk_nope_head_dim=16, rms_norm_eps=1e-6, max_position_embeddings=163840,
        rope_parameters={**yarn, "mscale": 0.707, "mscale_all_dim": 0.707})
    deepseek_v2_greedy = transformers.DeepseekV2Config(**{**deepseek_v2.to_dict(),
                                                          "topk_method": "greedy"})
    return {
        "deepseek_v3": (deepseek_v3, [("tp 2, ep 2", 2, {"tp": 2, "ep": 2}),
                                      ("dp 2, ep 2", 2, {"dp": 2, "ep": 2}),
                                      ("tp 2 x pp 3, ep 2", 6, {"tp": 2, "pp": 3, "ep": 2})],
                        deepseek_v3_plain, "yarn (frequencies and the scores' mscale)"),
        "deepseek_v2": (deepseek_v2, [("tp 2, ep 2", 2, {"tp": 2, "ep": 2}),
                                      ("tp 4, ep 4", 4, {"tp": 4, "ep": 4}),
                                      ("dp 2, ep 2", 2, {"dp": 2, "ep": 2}),
                                      ("tp 2 x pp 3, ep 2", 6, {"tp": 2, "pp": 3, "ep": 2})],
                        deepseek_v2_greedy, "group-limited routing"),
        # The same weights with the router's choice bias zeroed.
        "glm4_moe": (glm4_moe, [("tp 2, ep 2", 2, {"tp": 2, "ep": 2}),
                                ("dp 2, ep 2", 2, {"dp": 2, "ep": 2}),
                                ("tp 2 x pp 3, ep 2", 6, {"tp": 2, "pp": 3, "ep": 2})],
                     "e_score_correction_bias", "the router's choice bias"),
        "llama31": (llama31, [("tp 2", 2, {"tp": 2}), ("pp 2", 2, {"pp": 2}),
                              ("tp 2 x dp 2", 4, {"tp": 2, "dp": 2})],
                    llama31_plain, "rope_scaling llama3"),
        "mistral": (mistral, [("tp 1", 1, {}), ("tp 5", 5, {"tp": 5}), ("pp 3", 3, {"pp": 3}),
                              ("dp 2", 2, {"dp": 2})],
                    mistral_no_window, "the sliding window of 16"),
        "mixtral": (mixtral, [("tp 2, ep 2", 2, {"tp": 2, "ep": 2}),
                              ("dp 2, ep 2", 2, {"dp": 2, "ep": 2}),
                              ("tp 2 x pp 2, ep 2", 4, {"tp": 2, "pp": 2, "ep": 2})],
                    mixtral_top1, "top-2 routing"),
        # The same weights in Llama's model: no biases on q, k and v.
        "qwen2": (qwen2, [("tp 2", 2, {"tp": 2}), ("tp 3", 3, {"tp": 3}), ("pp 3", 3, {"pp": 3}),
                          ("tp 2 x dp 2", 4, {"tp": 2, "dp": 2})],
                  transformers.LlamaConfig(**{k: v for k, v in qwen2.to_dict().items()
                                              if k != "model_type"}), "q/k/v biases"),
        # The same weights in Llama's model: no q/k norm.
        "qwen3": (qwen3, [("tp 2", 2, {"tp": 2}), ("pp 3", 3, {"pp": 3}),
                          ("tp 2 x dp 2", 4, {"tp": 2, "dp": 2})],
                  transformers.LlamaConfig(**{k: v for k, v in qwen3.to_dict().items()
                                              if k != "model_type"}), "q/k norm"),
        "qwen3_moe": (qwen3_moe, [("tp 2, ep 2", 2, {"tp": 2, "ep": 2}),
                                  ("dp 2, ep 2", 2, {"dp": 2, "ep": 2}),
                                  ("tp 2 x pp 2, ep 2", 4, {"tp": 2, "pp": 2, "ep": 2})],
                      qwen3_moe_raw, "norm_topk_prob"),
        "qwen2_moe": (qwen2_moe, [("tp 2, ep 2", 2, {"tp": 2, "ep": 2}),
                                  ("dp 2, ep 2", 2, {"dp": 2, "ep": 2}),
                                  ("tp 2 x pp 3, ep 2", 6, {"tp": 2, "pp": 3, "ep": 2})],
                      "shared_expert_gate", "the shared expert's gate (zeroed: scale 1/2)"),
    }


def reference_output(model, x):
    with torch.no_grad():
        return model.model(inputs_embeds=torch.from_numpy(x)).last_hidden_state.numpy()


PROMPTS = [[5, 17, 2, 60, 33, 8, 91, 44, 12], [70, 3, 26, 51, 9]]
NEW_TOKENS = 8


def greedy_tokens(model):
    """transformers' own greedy generation of NEW_TOKENS for each prompt (batch 1, no stop
    token), and the smallest gap between a step's two largest logits, relative to the largest
    magnitude: how near a tie any choice was."""
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    tokens, gap = [], float("inf")
    with torch.no_grad():
        for prompt in PROMPTS:
            out = model.generate(torch.tensor([prompt]), max_new_tokens=NEW_TOKENS,
                                 do_sample=False, output_logits=True,
                                 return_dict_in_generate=True)
            tokens.append(out.sequences[0, len(prompt):].tolist())
            for step in out.logits:
                top = torch.topk(step[0].double(), 2).values
                gap = min(gap, float((top[0] - top[1]) / step[0].abs().max()))
    return tokens, gap


def generate_check(args, mpirun, name, model, ckpt, label, ranks, strategy):
    """`shardrt generate` on the checkpoint must choose transformers' greedy tokens."""
    run_dir = os.path.join(args.work, name, "generate-" + label.replace(" ", "").replace(",", "_"))
    os.makedirs(run_dir)
    deployment = {"name": f"hf-{name}", "seed": 5, "model": {"hf_config": os.path.join(ckpt, "config.json")},
                  "workload": {"batch_size": 2, "seq_len": 37, "dtype": "fp32"}, "strategy": strategy}
    path = os.path.join(run_dir, "deployment.json")
    with open(path, "w") as f:
        json.dump(deployment, f, indent=1)
    cmd = mpirun + ["-np", str(ranks), args.shardrt, "generate", path, "--device", "cpu",
                    "--weights", ckpt, "--validate", "--ignore-eos", "--max-new-tokens",
                    str(NEW_TOKENS), "--out", os.path.join(run_dir, "out")]
    for prompt in PROMPTS:
        cmd += ["--prompt", ",".join(map(str, prompt))]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout + run.stderr, file=sys.stderr)
        print(f"| {name} | generate, {label} | {ranks} | exit {run.returncode} | - | FAIL |")
        return False
    with open(os.path.join(run_dir, "out", "generate.json")) as f:
        got = [r["tokens"] for r in json.load(f)["requests"]]
    want, gap = greedy_tokens(model)
    ok = got == want
    print(f"| {name} | generate {NEW_TOKENS} greedy tokens, {label} | {ranks} | PASS | "
          f"tokens {'identical' if ok else f'differ: {got} vs {want}'} (smallest top-2 gap "
          f"{gap:.1e}) | {'PASS' if ok else 'FAIL'} |")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shardrt")
    ap.add_argument("work")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--families",
                    default="llama31,mistral,mixtral,qwen2,qwen3,qwen3_moe,qwen2_moe,glm4_moe,"
                            "deepseek_v3,deepseek_v2")
    args = ap.parse_args()
    mpirun = [args.mpirun, "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    torch.set_num_threads(1)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    print(f"| family | strategy | ranks | shardrt --validate | rel_err vs transformers | verdict |")
    print(f"|---|---|---|---|---|---|")
    failed = 0
    table = families()
    for name in args.families.split(","):
        config, strategies, without, feature = table[name]
        config.architectures = [type(config).__name__.replace("Config", "ForCausalLM")]
        model_cls = getattr(transformers, config.architectures[0])
        model = model_cls(config).eval()
        randomise(model, seed=sum(name.encode()))  # fixed: str hash() varies by process
        ckpt = os.path.join(args.work, name, "checkpoint")
        model.save_pretrained(ckpt)
        checkpoints = [("", ckpt)]
        if any(".experts.gate_up_proj" in k for k in model.state_dict()):
            # transformers v5's own layout: experts fused as in memory (save_pretrained
            # still writes them per expert). The first strategy runs on it too.
            fused = os.path.join(args.work, name, "checkpoint-fused")
            os.makedirs(fused)
            shutil.copy(os.path.join(ckpt, "config.json"), fused)
            safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                                        os.path.join(fused, "model.safetensors"))
            checkpoints.append((", v5 fused experts", fused))
        last = None  # the last run's input and output, for the comparison without the feature
        runs = [(label, ranks, strategy, ckpt) for label, ranks, strategy in strategies]
        runs += [(strategies[0][0] + tag, strategies[0][1], strategies[0][2], path)
                 for tag, path in checkpoints[1:]]
        for label, ranks, strategy, weights in runs:
            run_dir = os.path.join(args.work, name, label.replace(" ", "").replace(",", "_"))
            os.makedirs(run_dir)
            deployment = {
                "name": f"hf-{name}",
                "seed": 5,
                "model": {"hf_config": os.path.join(ckpt, "config.json")},
                "workload": {"batch_size": 2, "seq_len": 37, "dtype": "fp32"},
                "strategy": strategy,
            }
            path = os.path.join(run_dir, "deployment.json")
            with open(path, "w") as f:
                json.dump(deployment, f, indent=1)
            cmd = mpirun + ["-np", str(ranks), args.shardrt, "run", path, "--device", "cpu",
                            "--weights", weights, "--validate", "--warmup", "0", "--iters", "1",
                            "--out", os.path.join(run_dir, "out"), "--dump",
                            os.path.join(run_dir, "dump")]
            run = subprocess.run(cmd, capture_output=True, text=True)
            validated = "PASS" if run.returncode == 0 and " PASS" in run.stdout else "FAIL"
            if run.returncode != 0:
                print(run.stdout + run.stderr, file=sys.stderr)
                print(f"| {name} | {label} | {ranks} | exit {run.returncode} | - | FAIL |")
                failed += 1
                continue
            x = np.load(os.path.join(run_dir, "dump", "input.npy"))
            got = np.load(os.path.join(run_dir, "dump", "output.npy"))
            err = rel_err(got, reference_output(model, x))
            last = (x, got)
            ok = err <= TOLERANCE and validated == "PASS"
            failed += not ok
            print(f"| {name} | {label} | {ranks} | {validated} | {err:.2e} | {'PASS' if ok else 'FAIL'} |")
        # Token level: shardrt's greedy tokens against transformers' generate, on the first and
        # the last strategy.
        for label, ranks, strategy in [strategies[0], strategies[-1]]:
            failed += not generate_check(args, mpirun, name, model, ckpt, label, ranks, strategy)
        # The check can fail: the same weights without the feature must not match.
        if last is None:
            continue
        x, got = last
        if isinstance(without, str):  # the same model with that tensor zeroed
            other = model_cls(config).eval()
            state = model.state_dict()
            other.load_state_dict({k: (torch.zeros_like(v) if without in k else v)
                                   for k, v in state.items()})
            err = rel_err(got, reference_output(other, x))
            ok = err > 100 * TOLERANCE
            failed += not ok
            print(f"| {name} | last run vs transformers without {feature} | - | - | {err:.2e} | "
                  f"{'differs, as it must' if ok else 'FAIL: no difference'} |")
            continue
        other = getattr(transformers, type(without).__name__.replace("Config", "ForCausalLM"))(
            without).eval()
        # Another family's model takes the weights it has names for (Llama: no biases, no q/k norm).
        other.load_state_dict(model.state_dict(), strict=type(without) is type(config))
        err = rel_err(got, reference_output(other, x))
        ok = err > 100 * TOLERANCE
        failed += not ok
        print(f"| {name} | last run vs transformers without {feature} | - | - | {err:.2e} | "
              f"{'differs, as it must' if ok else 'FAIL: no difference'} |")
    print("hf_crosscheck: " + ("OK" if failed == 0 else f"{failed} FAILED"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
