#!/usr/bin/env python3
"""Train maskrt's default model: a reduced-width Mask R-CNN R50-FPN on the synthetic shapes data set,
with Detectron2's own training code, then evaluate it with Detectron2's COCOEvaluator.

Dev-time tool (not shipped with maskrt). See tools/train/README.md for the recipe and the command that
produced models/default/.

What is Detectron2's and what is ours:
* model, optimizer (SGD + per-parameter gradient clipping), data loader (DatasetMapper with
  ResizeShortestEdge + horizontal flip, RLE masks as bitmasks), the AMP training step (AMPTrainer /
  SimpleTrainer.run_step), the LR schedule (WarmupCosineLR via build_lr_scheduler), the evaluator
  (COCOEvaluator + inference_on_dataset) and the checkpoint loader are Detectron2's;
* ours: the config values, the data set registration, a wall-clock budget (the first --probe-iters
  iterations measure the speed; MAX_ITER is then chosen so that training ends within --train-seconds
  and before --deadline, capped by --max-iter, and the cosine schedule is built for that MAX_ITER) and
  the export of the weights as a model-zoo style pickle {"model": {name: float32 numpy array}, ...};
  fast_mapper.FastDatasetMapper (default, --no-fast-mapper for Detectron2's DatasetMapper): the same
  mapped dicts as Detectron2's DatasetMapper (same augmentation sampling, bit-identical image, boxes,
  classes, masks), with the per-instance masks built only inside each object's box.

Several GPUs (--num-gpus N): Detectron2's detectron2.engine.launch starts one process per GPU (NCCL;
gloo when there is no GPU, e.g. a CPU dry run with --device cpu), the model is wrapped by
detectron2.engine.defaults.create_ddp_model, and SOLVER.IMS_PER_BATCH (--batch) is the TOTAL batch
(Detectron2's train loader gives every process batch/N images). Every process times its probe and
proposes a MAX_ITER; all take the smallest (detectron2.utils.comm.all_gather), so all run the same
number of steps. After training the process group is closed; only rank 0 logs, exports and evaluates
(single-process evaluation, so the whole val split is seen).

Several processes per GPU (--procs-per-gpu K > 1): the step is bound by Detectron2's per-image Python
work on each process's main thread, not by the GPU, so K processes can share one GPU. Then
num_gpus*K processes are started by launch_shared() below (torch.multiprocessing.spawn), process r
uses GPU r // K, and the process group is gloo (NCCL refuses two ranks on one GPU; gloo all-reduces
CUDA tensors through host copies). DDP gets device_ids=[that GPU]. Everything else is as above; each
process's BN normalises over its own batch/(num_gpus*K) images. With --device cpu the same code runs
without the set_device (the CPU dry run of tools/train/device_stage4.sh).

Modes:
  train:      python3 tools/train/train_shapes.py --data DIR --out OUT [--train-seconds S] [--max-iter N]
  eval only:  python3 tools/train/train_shapes.py --data DIR --out OUT --eval-only --weights model.pkl \
                  --config models/default/config.yaml [--device cpu]
  mapper check: python3 tools/train/train_shapes.py --data DIR --out OUT --check-mapper 60
  2 GPUs:     add --num-gpus 2 (--batch is the total batch, --workers is per process)
  1 GPU, 4 processes: add --procs-per-gpu 4 (gloo; --batch total, --workers per process)
DIR is what tools/dataset/make_shapes_dataset.py writes (train/, val/, annotations/{train,val}.json).
Detectron2 comes from D2_SRC (default /work/d2src) through tools/reference/d2_env.py.
"""
import argparse
import datetime
import hashlib
import json
import logging
import os
import pickle
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import d2_env  # noqa: E402

# At import, not in main(): processes started by detectron2.engine.launch (spawn) import this file
# before they unpickle the worker function, so detectron2 (and d2_env's stubs) must be ready here.
d2_env.setup()

CLASSES = ["circle", "rectangle", "triangle", "star", "ring"]


def make_cfg(a):
    """The training config: Base-RCNN-FPN + mask head, reduced width, BN, from scratch."""
    from detectron2.config import get_cfg
    cfg = get_cfg()
    if a.config:
        cfg.merge_from_file(a.config)
    else:
        cfg.merge_from_file(os.path.join(d2_env.d2_src(), "configs", "Base-RCNN-FPN.yaml"))
        m = cfg.MODEL
        m.WEIGHTS = ""
        m.MASK_ON = True
        m.PIXEL_MEAN = [103.530, 116.280, 123.675]   # BGR, as Detectron2's defaults
        m.PIXEL_STD = [57.375, 57.120, 58.395]       # scale to ~unit variance (training from scratch)
        m.BACKBONE.FREEZE_AT = 0                     # from scratch: nothing frozen
        m.RESNETS.DEPTH = 50
        m.RESNETS.NORM = "BN"                        # trained BN; inference uses running statistics
        m.RESNETS.WIDTH_PER_GROUP = 16               # 1/4 of R50's width
        m.RESNETS.RES2_OUT_CHANNELS = 64
        m.RESNETS.STEM_OUT_CHANNELS = 32
        m.FPN.OUT_CHANNELS = 64
        m.ANCHOR_GENERATOR.SIZES = [[16], [32], [64], [128], [256]]  # objects from 8 px
        m.ROI_HEADS.NUM_CLASSES = len(CLASSES)
        m.ROI_BOX_HEAD.FC_DIM = 256
        m.ROI_MASK_HEAD.CONV_DIM = 64
        inp = cfg.INPUT
        inp.MIN_SIZE_TRAIN = (384, 416, 448, 480, 512)
        inp.MAX_SIZE_TRAIN = 853
        # Test size chosen on a separate tuning split (make_shapes_dataset.py --seed 1, 150 images; val
        # untouched), maskrt CPU eval: after stage 5 mask AP 41.9 / 45.2 / 45.9 / 45.8 / 45.0 at 448 /
        # 576 / 640 / 704 / 800 (-> 640); after stage 6 (trained at 416..576) 49.6 / 50.6 / 50.9 / 50.3
        # at 576 / 640 / 704 / 768 (-> 704); after stage 11 (trained at 544..704) CUDA fp32 60.8 / 61.0 /
        # 61.5 / 61.5 / 61.2 at 704 / 768 / 832 / 896 / 960 (-> 832, session 10); after stage 12 (trained
        # at 608..800) 62.4 / 64.0 / 64.0 / 63.6 at 768 / 832 / 896 / 960 (832 kept, session 11). Stages
        # 1-5 were evaluated at 448 / 800, stage 6 at 640, stages 7-11 right after training at 704,
        # stage 12 at 832.
        inp.MIN_SIZE_TEST = 832
        inp.MAX_SIZE_TEST = 1333
        inp.MASK_FORMAT = "bitmask"                  # the data set's masks are COCO RLE
        s = cfg.SOLVER
        s.IMS_PER_BATCH = a.batch
        s.BASE_LR = a.lr
        s.MOMENTUM = 0.9
        s.WEIGHT_DECAY = 1e-4
        s.WEIGHT_DECAY_NORM = 0.0
        s.LR_SCHEDULER_NAME = "WarmupCosineLR"
        s.WARMUP_ITERS = a.warmup_iters
        s.WARMUP_FACTOR = 1e-3
        s.MAX_ITER = a.max_iter                      # replaced by the measured budget
        s.STEPS = ()
        s.CHECKPOINT_PERIOD = 10**9
        s.CLIP_GRADIENTS.ENABLED = True
        s.CLIP_GRADIENTS.CLIP_TYPE = "norm"
        s.CLIP_GRADIENTS.CLIP_VALUE = 5.0
        s.AMP.ENABLED = a.amp
        cfg.DATASETS.TRAIN = ("shapes_train",)
        cfg.DATASETS.TEST = ("shapes_val",)
        cfg.TEST.DETECTIONS_PER_IMAGE = 100
        cfg.SEED = a.seed
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.DEVICE = a.device
    cfg.DATALOADER.NUM_WORKERS = a.workers
    cfg.OUTPUT_DIR = a.out
    return cfg


def register(data):
    from detectron2.data.datasets import register_coco_instances
    for split in ("train", "val"):
        js = os.path.join(data, "annotations", f"{split}.json")
        if os.path.exists(js):
            register_coco_instances(f"shapes_{split}", {}, js, os.path.join(data, split))


def export_pkl(model, path):
    """Model-zoo style pickle: exactly the state_dict names, float32 numpy (BN's counter dropped)."""
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()
          if not k.endswith("num_batches_tracked")}
    with open(path, "wb") as f:
        pickle.dump({"model": sd, "__author__": "maskrt tools/train/train_shapes.py"}, f, protocol=4)
    return sum(v.size for v in sd.values())


def hash_images(folder):
    """sha256 over (name, bytes) of every file in folder, sorted: tells whether a split regenerated
    elsewhere (other Pillow/libjpeg) is byte-identical to the one evaluated here."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        h.update(name.encode() + b"\0")
        with open(os.path.join(folder, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def clean_dump(cfg):
    """cfg.dump() for shipping: no weights path, device left at Detectron2's default."""
    c = cfg.clone()
    c.defrost()
    c.MODEL.WEIGHTS = ""
    c.MODEL.DEVICE = "cuda"
    c.OUTPUT_DIR = "./output"
    c.DATALOADER.NUM_WORKERS = 4
    return c.dump()


def train(cfg, a, log):
    """Train on this process's share of the batch. Returns (model without the DDP wrapper,
    iterations, seconds, number of steps whose loss was not finite)."""
    import torch
    from detectron2.data import build_detection_train_loader
    from detectron2.engine import AMPTrainer, SimpleTrainer
    from detectron2.engine.defaults import create_ddp_model
    from detectron2.modeling import build_model
    from detectron2.solver import build_lr_scheduler, build_optimizer
    from detectron2.utils import comm
    from detectron2.utils.events import EventStorage

    model = build_model(cfg)
    nparam = sum(p.numel() for p in model.parameters())
    log(f"model: {nparam / 1e6:.2f} M parameters")
    if a.init_weights:  # continue from an earlier stage (weights only; optimizer and schedule restart)
        from detectron2.checkpoint import DetectionCheckpointer
        DetectionCheckpointer(model).load(a.init_weights)
        log(f"initialized from {a.init_weights}")
    optimizer = build_optimizer(cfg, model)
    if a.fast_mapper:  # same output as Detectron2's DatasetMapper, masks built faster (fast_mapper.py)
        from fast_mapper import FastDatasetMapper
        loader = build_detection_train_loader(cfg, mapper=FastDatasetMapper(cfg, is_train=True))
    else:
        loader = build_detection_train_loader(cfg)  # batch IMS_PER_BATCH / world size per process
    log(f"data mapper: {'FastDatasetMapper (tools/train/fast_mapper.py)' if a.fast_mapper else 'DatasetMapper'}")
    use_amp = cfg.SOLVER.AMP.ENABLED and cfg.MODEL.DEVICE.startswith("cuda")
    world = comm.get_world_size()
    if world > 1:
        # As Detectron2's tools/train_net.py: buffers (BN running statistics) are not broadcast; each
        # process keeps its own, rank 0's are exported. DDP broadcasts rank 0's parameters here.
        if not cfg.MODEL.DEVICE.startswith("cuda"):
            kw = {"device_ids": None}
        elif a.procs_per_gpu > 1:  # Detectron2's default, [local rank], is not the GPU here
            kw = {"device_ids": [torch.cuda.current_device()]}
        else:
            kw = {}
        ddp_model = create_ddp_model(model, broadcast_buffers=False, **kw)
        log(f"DDP over {world} processes ({torch.distributed.get_backend()}), "
            f"{cfg.SOLVER.IMS_PER_BATCH // world} images per process"
            + (f", {a.procs_per_gpu} processes per {'GPU' if kw.get('device_ids') else 'device'}"
               if a.procs_per_gpu > 1 else ""))
    else:
        ddp_model = model
    trainer = (AMPTrainer if use_amp else SimpleTrainer)(ddp_model, loader, optimizer)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    warm = cfg.SOLVER.WARMUP_ITERS

    def warmup_lr(it):  # Detectron2's linear warmup, used before the schedule exists
        alpha = min(1.0, it / warm)
        f = cfg.SOLVER.WARMUP_FACTOR * (1 - alpha) + alpha
        for g, lr in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr * f

    def finish_step():
        # Detectron2 raises FloatingPointError for a non-finite loss on the main process only, after
        # the backward pass (gradients already all-reduced) and before the optimizer step. Doing that
        # step here, as run_step would have (with AMP the GradScaler skips it for inf/NaN gradients
        # and lowers its scale, as it does on the other ranks), keeps all processes in step.
        if use_amp:
            trainer.grad_scaler.step(optimizer)
            trainer.grad_scaler.update()
        else:
            optimizer.step()

    sync = torch.cuda.synchronize if cfg.MODEL.DEVICE.startswith("cuda") else (lambda: None)
    scheduler = None
    max_iter = a.max_iter
    nonfinite = 0
    t_start = time.perf_counter()
    t_probe0 = None
    it = 0
    with EventStorage(0) as storage:
        while it < max_iter:
            if scheduler is None:
                warmup_lr(it)
            trainer.iter = it
            storage.iter = it
            try:
                trainer.run_step()
            except FloatingPointError as e:
                # Only the metrics writer's error is recoverable; Detectron2's other one (RPN's
                # "Predicted boxes or scores contain Inf/NaN") comes before the all-reduce.
                if "Loss became infinite or NaN" not in str(e):
                    raise
                nonfinite += 1
                log(f"iter {it}: non-finite loss ({nonfinite} so far): {str(e).splitlines()[0]}")
                finish_step()
                if nonfinite > a.max_nonfinite:
                    raise
            if scheduler is not None:
                scheduler.step()
            it += 1
            if it == a.probe_skip:
                sync()
                t_probe0 = time.perf_counter()
            if scheduler is None and it == a.probe_iters:
                sync()
                now = time.perf_counter()
                spi = (now - t_probe0) / (a.probe_iters - a.probe_skip)
                left = a.train_seconds - (now - t_start)
                if a.deadline:
                    left = min(left, a.deadline - time.time())
                proposal = max(it + 1, min(a.max_iter, it + max(0, int(left / spi))))
                # Every process must run the same number of steps: all take the smallest proposal.
                proposals = comm.all_gather(proposal)
                spis = comm.all_gather(spi)
                max_iter = min(proposals)
                cfg.defrost()
                cfg.SOLVER.MAX_ITER = max_iter
                cfg.SOLVER.WARMUP_ITERS = min(warm, max_iter // 4)
                cfg.freeze()
                for g, lr in zip(optimizer.param_groups, base_lrs):
                    g["lr"] = lr
                    g.pop("initial_lr", None)
                scheduler = build_lr_scheduler(cfg, optimizer)
                for _ in range(it):
                    scheduler.step()
                log(f"probe: {spi:.3f} s/iter over iters {a.probe_skip}..{a.probe_iters}; "
                    f"MAX_ITER = {max_iter} (budget {a.train_seconds:.0f} s"
                    + (f", {left:.0f} s left before the deadline" if a.deadline else "")
                    + f", cap {a.max_iter}; proposals of the {len(proposals)} processes: {proposals})")
                log(f"speed: {cfg.SOLVER.IMS_PER_BATCH / max(spis):.1f} images/s "
                    f"({cfg.SOLVER.IMS_PER_BATCH} images per step over {world} processes; "
                    f"s/iter per process: {' '.join(f'{x:.3f}' for x in spis)})")
            if comm.is_main_process() and (it % a.log_period == 0 or it == max_iter):
                lat = storage.latest()
                losses = {k: v[0] for k, v in lat.items() if "loss" in k}
                el = time.perf_counter() - t_start
                log(f"iter {it}/{max_iter} {el:.0f}s lr {optimizer.param_groups[0]['lr']:.5f} "
                    + " ".join(f"{k}={v:.3f}" for k, v in sorted(losses.items()))
                    + f" data_time={lat.get('data_time', (0,))[0]:.3f}")
    sync()
    train_s = time.perf_counter() - t_start
    return model, it, train_s, nonfinite


def evaluate(cfg, model, a, log):
    import torch
    from detectron2.data import build_detection_test_loader
    from detectron2.evaluation import COCOEvaluator, inference_on_dataset
    model.eval()
    name = cfg.DATASETS.TEST[0]
    evaluator = COCOEvaluator(name, output_dir=None, use_fast_impl=False,
                              tasks=("bbox", "segm"))
    loader = build_detection_test_loader(cfg, name)
    t0 = time.perf_counter()
    with torch.no_grad():
        res = inference_on_dataset(model, loader, evaluator)
    log(f"eval: {time.perf_counter() - t0:.1f} s")
    return {task: {k: (None if v != v else float(v)) for k, v in r.items()} for task, r in res.items()}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="data set folder from make_shapes_dataset.py")
    ap.add_argument("--out", required=True, help="output folder (model_final.pkl, config.yaml, metrics.json, train_log.txt)")
    ap.add_argument("--config", help="start from this config (eval-only: the shipped config)")
    ap.add_argument("--weights", help="eval-only: checkpoint to evaluate")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--init-weights", help="train: start from this checkpoint instead of from scratch")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--num-gpus", type=int, default=1,
                    help="processes (one per GPU) started by detectron2.engine.launch; gloo on CPU")
    ap.add_argument("--procs-per-gpu", type=int, default=1,
                    help="K > 1: K processes share each GPU (num_gpus*K processes, gloo; own spawn)")
    ap.add_argument("--workers", type=int, default=4, help="DATALOADER.NUM_WORKERS (per process)")
    ap.add_argument("--batch", type=int, default=16, help="SOLVER.IMS_PER_BATCH: total over all processes")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--warmup-iters", type=int, default=300)
    ap.add_argument("--max-iter", type=int, default=4000, help="upper bound on iterations")
    ap.add_argument("--train-seconds", type=float, default=300, help="wall-clock budget of training")
    ap.add_argument("--deadline", type=float, default=0,
                    help="Unix time (s) by which training must end (0: none); tightens --train-seconds")
    ap.add_argument("--probe-iters", type=int, default=60, help="iterations timed before MAX_ITER is set")
    ap.add_argument("--probe-skip", type=int, default=20, help="first iterations left out of the timing")
    ap.add_argument("--max-nonfinite", type=int, default=50,
                    help="steps with a non-finite loss tolerated (skipped by AMP) before giving up")
    ap.add_argument("--no-amp", dest="amp", action="store_false")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-period", type=int, default=50)
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--fast-mapper", dest="fast_mapper", action="store_true", default=True,
                    help="train with fast_mapper.FastDatasetMapper (default; same output as "
                         "Detectron2's DatasetMapper, checked by --check-mapper)")
    ap.add_argument("--no-fast-mapper", dest="fast_mapper", action="store_false",
                    help="train with Detectron2's DatasetMapper")
    ap.add_argument("--check-mapper", type=int, default=0, metavar="N",
                    help="only compare FastDatasetMapper with DatasetMapper on the first N train images "
                         "(0 < N; 2 rounds of seeds), print the timings, exit 1 on any difference")
    # Small overrides for a CPU dry run of the pipeline (not used for the shipped model).
    ap.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE ... config overrides")
    a = ap.parse_args(argv)
    if a.eval_only:
        a.num_gpus = 1
        a.procs_per_gpu = 1
    if a.procs_per_gpu < 1:
        ap.error(f"--procs-per-gpu {a.procs_per_gpu} must be >= 1")
    procs = a.num_gpus * a.procs_per_gpu
    if a.num_gpus < 1 or a.batch % procs:
        ap.error(f"--batch {a.batch} must be a multiple of --num-gpus {a.num_gpus} (>= 1)"
                 f" times --procs-per-gpu {a.procs_per_gpu}")
    return a


def quiet_warnings():
    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.cuda.amp deprecation, per step
    warnings.filterwarnings("ignore", category=UserWarning)


def run(a):
    """One process: all of the work for --num-gpus 1; with several, rank 0 logs, exports, evaluates."""
    import torch
    from detectron2.utils import comm
    from detectron2.utils.logger import setup_logger
    quiet_warnings()
    rank, world = comm.get_rank(), comm.get_world_size()
    main_proc = rank == 0
    logf = open(os.path.join(a.out, "train_log.txt"), "a") if main_proc else None

    def log(msg):
        if not main_proc:
            return
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    setup_logger(name="detectron2", abbrev_name="d2", distributed_rank=rank)
    logging.getLogger("detectron2").setLevel(logging.WARNING)  # keep the log short; we print progress
    register(a.data)
    cfg = make_cfg(a)
    if a.opts:
        cfg.merge_from_list(a.opts)
    metrics = {}
    if main_proc:
        versions = d2_env.versions()
        versions["cuda_device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        versions["processes"] = world
        versions["dist_backend"] = (torch.distributed.get_backend()
                                    if torch.distributed.is_initialized() else None)
        log("versions: " + json.dumps(versions))
        metrics = {"versions": versions, "args": vars(a)}
        val_json = os.path.join(a.data, "annotations", "val.json")
        if os.path.exists(val_json):
            with open(val_json, "rb") as f:
                metrics["val_json_sha256"] = hashlib.sha256(f.read()).hexdigest()
            metrics["val_images_sha256"] = hash_images(os.path.join(a.data, "val"))
    torch.manual_seed(a.seed)
    if a.eval_only:
        from detectron2.checkpoint import DetectionCheckpointer
        from detectron2.modeling import build_model
        cfg.freeze()
        model = build_model(cfg)
        DetectionCheckpointer(model).load(a.weights)
    else:
        cfg.freeze()
        model, iters, train_s, nonfinite = train(cfg, a, log)
        if world > 1:
            # Close the process group: from here on rank 0 works alone (world size 1 for Detectron2's
            # test loader, which would otherwise give it only its shard, and for COCOEvaluator).
            comm.synchronize()
            torch.distributed.destroy_process_group()
            if not main_proc:
                return 0
        metrics.update(iterations=iters, train_seconds=round(train_s, 1), processes=world,
                       s_per_iter=round(train_s / max(1, iters), 4), images_seen=iters * cfg.SOLVER.IMS_PER_BATCH,
                       images_per_s=round(iters * cfg.SOLVER.IMS_PER_BATCH / max(train_s, 1e-9), 2),
                       nonfinite_loss_steps=nonfinite)
        log(f"trained {iters} iterations in {train_s:.1f} s")
        n = export_pkl(model, os.path.join(a.out, "model_final.pkl"))
        metrics["parameters_exported"] = int(n)
        with open(os.path.join(a.out, "config.yaml"), "w") as f:
            f.write(clean_dump(cfg))
        log("exported model_final.pkl and config.yaml")
    if not a.no_eval:
        metrics["detectron2_eval"] = evaluate(cfg, model, a, log)
        for task, r in metrics["detectron2_eval"].items():
            log(f"{task}: " + " ".join(f"{k}={v:.2f}" for k, v in r.items() if v is not None))
    with open(os.path.join(a.out, "metrics.json" if not a.eval_only else "metrics_eval.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    return 0


def unused_local_port():
    """A TCP port on 127.0.0.1 that is free now (the OS picks it; it could be taken before use)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_worker(rank, fn, a, world, url):
    """Process `rank` of launch_shared(): pick the GPU, join the gloo group, then fn(a)."""
    import torch
    import torch.distributed as dist
    from detectron2.utils import comm
    if a.device.startswith("cuda"):
        torch.cuda.set_device(rank // a.procs_per_gpu)  # before any CUDA work of this process
    # Each process would otherwise run CPU ops on all cores (world x cores threads competing with the
    # loader workers, which stage 4's data_time of 0.2-0.4 s suggests): a share of the cores instead.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world // 2))
    dist.init_process_group("gloo", init_method=url, world_size=world, rank=rank,
                            timeout=datetime.timedelta(minutes=30))
    comm.create_local_process_group(world)  # one machine: every rank is local (comm.get_local_rank)
    comm.synchronize()
    fn(a)


def launch_shared(fn, a):
    """num_gpus * procs_per_gpu processes on this machine, K = procs_per_gpu of them per GPU, in one
    gloo process group (NCCL does not allow two ranks on one GPU). Not daemonic: each process starts
    its own data loader workers."""
    import torch
    import torch.multiprocessing as mp
    world = a.num_gpus * a.procs_per_gpu
    if a.device.startswith("cuda"):
        have = torch.cuda.device_count()
        if have < a.num_gpus:
            raise SystemExit(f"--num-gpus {a.num_gpus}: only {have} CUDA device(s) visible")
    url = f"tcp://127.0.0.1:{unused_local_port()}"
    mp.spawn(shared_worker, args=(fn, a, world, url), nprocs=world, join=True, daemon=False)


def check_mapper(a):
    """--check-mapper N: FastDatasetMapper vs Detectron2's DatasetMapper on N train images."""
    import torch
    from detectron2.data import DatasetCatalog
    import fast_mapper
    torch.set_num_threads(1)  # as in a loader worker
    register(a.data)
    cfg = make_cfg(a)
    if a.opts:
        cfg.merge_from_list(a.opts)
    cfg.freeze()
    dicts = DatasetCatalog.get(cfg.DATASETS.TRAIN[0])[:a.check_mapper]
    ok, rep = fast_mapper.check(cfg, dicts, rounds=2, seed=a.seed)
    line = ("mapper check: " + ("EQUAL" if ok else "DIFFERENT") + " " + json.dumps(rep))
    print(line, flush=True)
    with open(os.path.join(a.out, "mapper_check.json"), "w") as f:
        json.dump(dict(rep, equal=ok), f, indent=1)
    return 0 if ok else 1


def main(argv=None):
    a = parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    quiet_warnings()
    if a.check_mapper:
        return check_mapper(a)
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning,ignore::UserWarning")  # loader workers
    if a.procs_per_gpu > 1:
        # Several processes per GPU: our own spawn with gloo (see the module docstring).
        launch_shared(run, a)
        return 0
    from detectron2.engine import launch
    # One process per GPU (spawned; NCCL, or gloo without a GPU); with 1, run() is called right here.
    launch(run, a.num_gpus, dist_url="auto", args=(a,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
